"""The sync pipeline: streams, snapshots, leases, progress (see docs/decisions/003)."""
