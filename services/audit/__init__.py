"""The auditor's package: a signed zip per organization and period (ADR 021)."""
