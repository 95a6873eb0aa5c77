"""Check exceptions: accepted risks that exclude failing items from a check."""
