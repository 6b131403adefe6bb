"""One module per engine; each defines ENGINE, a catalog entry."""
