"""PromQL helpers of the observability tests: parse a query (PyPI `promql-parser`, the Rust
parser of GreptimeDB built on Prometheus' grammar) and list the metric names it reads, and read
a Prometheus text exposition into the names it exports."""

from pathlib import Path

import promql_parser
import yaml

_CHILDREN = ("lhs", "rhs", "expr", "args", "vector_selector", "param")


def metric_names(query: str) -> set[str]:
    """Every metric name `query` selects; ValueError when it does not parse."""
    names: set[str] = set()
    pending = [promql_parser.parse(query)]
    while pending:
        node = pending.pop()
        if type(node).__name__ == "VectorSelector" and node.name:
            names.add(node.name)
        for attribute in _CHILDREN:
            child = getattr(node, attribute, None)
            if isinstance(child, list):
                pending.extend(child)
            elif child is not None and not isinstance(child, (str, int, float)):
                pending.append(child)
    return names


def exposition_names(text: str) -> set[str]:
    """The series names of a Prometheus text exposition (`# TYPE` lines and samples)."""
    names = set()
    for line in text.splitlines():
        if line and not line.startswith("#"):
            names.add(line.split("{", 1)[0].split(" ", 1)[0])
    return names


def rules(path: Path) -> list[dict]:
    """Every rule of a Prometheus rules file."""
    groups = yaml.safe_load(path.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]
