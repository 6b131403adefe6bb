"""reconciler: a GitOps engine for Docker hosts (stack.yaml in git, Docker made to match it)."""

__version__ = "0.1.0"
