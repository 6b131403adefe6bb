"""Core value types shared by every layer: errors, specs and live objects (the same type both sides of a diff)."""
