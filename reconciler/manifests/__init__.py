"""Manifests: read stack.yaml and its includes with positions, validate them, export JSON Schema."""
