"""People from the HR source of truth: upsert, offboarding, CSV import (SPEC §4)."""
