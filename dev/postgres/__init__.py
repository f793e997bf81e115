"""The Postgres of `make dev`, the tests and the benchmarks: found or started by `launcher.py`."""
