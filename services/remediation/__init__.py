"""Remediation: carry out REVOKE, DOWNGRADE and offboarding in Atlassian."""
