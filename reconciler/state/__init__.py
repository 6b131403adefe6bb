"""Core value types shared by every layer: errors, specs and live objects.

The same types stand on both sides of a diff."""
