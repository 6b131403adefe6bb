"""Label keys that mark managed Docker objects: the contract tools and users rely on."""

from __future__ import annotations

PREFIX = "io.reconciler."
STACK = "io.reconciler.stack"
KIND = "io.reconciler.kind"
NAME = "io.reconciler.name"
HASH = "io.reconciler.hash"
REVISION = "io.reconciler.revision"
REPLICA = "io.reconciler.replica"
#: The normalized spec (secret values masked) so a plan can show field diffs from a list call alone.
SPEC = "io.reconciler.spec"
#: Set on a replacement container created under a temporary name; names the container it replaces.
REPLACES = "io.reconciler.replaces"

#: Add-ons only: engine, version (for major-upgrade checks) and what happens to data on removal.
ENGINE = "io.reconciler.engine"
VERSION = "io.reconciler.version"
DELETION_POLICY = "io.reconciler.deletion-policy"

TEMP_SUFFIX = "--next"
