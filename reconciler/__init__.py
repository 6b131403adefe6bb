"""reconciler: a GitOps engine for Docker hosts (stack.yaml in git, Docker made to match it)."""

import os

# pydantic scans every installed distribution for plugins at import; reconciler uses none, and
# the scan costs more than the whole no-op pass it would slow down.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

__version__ = "0.1.0"
