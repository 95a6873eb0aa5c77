"""Hash-chained evidence: the chain, recording, verification and export."""
