"""The long-running reconciler: git sync, triggers, drift healing, deployment history."""
