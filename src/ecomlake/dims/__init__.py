"""Dimension snapshots: build (snapshot.py) and validate (validate.py)."""
