"""The change watch: Atlassian organization events → targeted refreshes (ADR 020)."""
