"""Enriched Silver: the runner that builds the ten tables for a date, their state, and their gate."""
