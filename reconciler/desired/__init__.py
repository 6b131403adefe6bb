"""Desired state: manifests turned into a DesiredStack (defaults, names, labels, hashes, ordering)."""
