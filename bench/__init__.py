"""Benchmarks (`make bench`): real servers over real sockets, each beside a raw baseline."""
