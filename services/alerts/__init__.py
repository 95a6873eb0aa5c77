"""Alerts: channels an organization configures, and telling them what changed."""
