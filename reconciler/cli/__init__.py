"""Command-line interface: validate, plan, apply, status, down, schema."""
