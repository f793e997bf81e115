"""Repository tooling: lock files (and other generators run by `make`)."""
