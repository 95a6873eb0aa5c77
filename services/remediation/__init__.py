"""Remediation: carry out REVOKE, DOWNGRADE and offboarding in Atlassian (issue 16)."""
