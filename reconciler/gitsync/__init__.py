"""Git: fetch, checkout and revisions of the repository holding the manifests."""
