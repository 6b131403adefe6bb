"""Desired state: manifests turned into a DesiredStack (defaults, names, hashes, ordering)."""
