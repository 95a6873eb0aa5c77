"""The five access checks of SPEC §6 and the data they read (source ``access``)."""
