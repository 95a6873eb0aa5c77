"""The two policy checks of SPEC §6 and the data they read (source ``policy``)."""
