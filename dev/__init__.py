"""Local development tooling: the `make dev` stack and the Postgres it runs on."""
