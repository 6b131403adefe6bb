"""Backups: streamed, checksummed dumps of add-ons and volumes; retention, restore, verify."""
