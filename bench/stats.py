"""Ratios of figures measured side by side, in alternating rounds.

This machine's speed drifts by 20-50 % within minutes (a shared VM). A ratio of two figures
taken minutes apart, or of two medians whose rounds the drift spread differently, measures the
drift as much as the code. Each round measures both sides moments apart, so the per-round ratio
sees one machine; the median of those ratios is what a target compares.
"""

from collections.abc import Sequence


def per_round(tops: Sequence[float], bottoms: Sequence[float]) -> list[float]:
    """`top / bottom` round by round (both sequences in round order); their median is the
    figure a target compares."""
    if not tops or len(tops) != len(bottoms):
        raise ValueError(f"rounds do not pair up: {len(tops)} and {len(bottoms)}")
    return [top / bottom for top, bottom in zip(tops, bottoms, strict=True)]
