"""Account identity: resolution, manual decisions and the account directory (SPEC §4)."""
