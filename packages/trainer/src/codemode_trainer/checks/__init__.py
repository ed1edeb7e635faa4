"""Checks of data and models before training: code checks, validation, contamination, preflight."""
