"""A local Prometheus for `make dev` (Debian's `prometheus` package), scraping every process."""
