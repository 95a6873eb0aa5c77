"""Required policies (SPEC §6.1): the catalogue, page structure, documents and mapping."""
