"""Failure labs: one scenario per module, each run against its own private stack
(labs/stack.py). `make lab NAME=<lab>` narrates one; tests/labs/ asserts each outcome.
The index, with the AKS side of every lab, is docs/labs.md."""

LABS = (
    "postgres_down_catalog",
    "postgres_down_orders",
    "catalog_down",
    "cosmos_down",
    "cosmos_throttled",
    "bus_down",
    "poison_message",
    "duplicate_delivery",
    "worker_killed",
    "backlog_burst",
)
