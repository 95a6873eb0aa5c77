"""Critical systems and access reviews (SPEC §5)."""
