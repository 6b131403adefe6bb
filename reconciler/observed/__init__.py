"""Observed state: the DockerPort protocol, its docker SDK adapter, and payload normalising."""
