"""Confluence integrations: connecting, credentials, tokens."""
