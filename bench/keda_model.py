"""A replay of the worker's KEDA scaling rule over a measured drain rate: how a backlog drains
and how many replicas run, second by second. MODELLED, not measured: the inputs are the
ScaledObject's own numbers (keda/values.yaml) and the per-replica throughput `make bench`
measured; the rules are KEDA's and the HPA's as documented:

- KEDA activates the Deployment (0 -> 1) at a polling tick when the queue holds more than
  `activationMessageCount`, and deactivates it (1 -> 0) once the queue has been empty for
  `cooldownPeriod` (https://keda.sh/docs/latest/reference/scaledobject-spec/).
- Above one replica the HPA decides, every 15 s (the controller's default sync period), with an
  AverageValue target: desired = ceil(queue / messageCount), within min..max
  (https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#algorithm-details).
- Its `behavior` bounds each change: scale-up by the larger of the Percent and Pods policies per
  period; scale-down to the highest recommendation of the stabilization window, by at most the
  Pods policy per period.
- A new replica starts consuming after `start_seconds` (the Functions host's start; assumed).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
HPA_SYNC_SECONDS = 15


@dataclass(frozen=True)
class ScalingRule:
    message_count: int
    activation_message_count: int
    min_replicas: int
    max_replicas: int
    polling_interval: int
    cooldown_period: int
    up_percent: int
    up_pods: int
    up_period: int
    down_window: int
    down_pods: int
    down_period: int

    @classmethod
    def from_chart(cls, values: Path = REPO / "keda" / "values.yaml") -> ScalingRule:
        s = yaml.safe_load(values.read_text(encoding="utf-8"))["scaling"]
        return cls(
            message_count=s["messageCount"],
            activation_message_count=s["activationMessageCount"],
            min_replicas=s["minReplicaCount"],
            max_replicas=s["maxReplicaCount"],
            polling_interval=s["pollingInterval"],
            cooldown_period=s["cooldownPeriod"],
            up_percent=s["scaleUp"]["percent"],
            up_pods=s["scaleUp"]["pods"],
            up_period=s["scaleUp"]["periodSeconds"],
            down_window=s["scaleDown"]["stabilizationWindowSeconds"],
            down_pods=s["scaleDown"]["pods"],
            down_period=s["scaleDown"]["periodSeconds"],
        )


@dataclass(frozen=True)
class Point:
    second: int
    queue: float
    replicas: int  # scheduled by the HPA/KEDA
    consuming: int  # started and draining


def simulate(
    rule: ScalingRule,
    backlog: int,
    throughput: Callable[[int], float],
    start_seconds: int = 20,
    horizon: int = 3600,
) -> list[Point]:
    """Replay a burst of `backlog` messages arriving at t=0 into an idle (zero-replica) worker.
    `throughput(n)` is the drain rate, messages/s, of n consuming replicas."""
    queue = float(backlog)
    replicas = rule.min_replicas
    started: deque[int] = deque()  # second at which each scheduled replica starts consuming
    recommendations: deque[tuple[int, int]] = deque()
    last_up = last_down = -(10**9)
    activated_at: int | None = None
    empty_since: int | None = None
    points = []
    for t in range(horizon):
        if t % rule.polling_interval == 0:
            if replicas == 0 and queue > rule.activation_message_count:
                replicas, activated_at = 1, t
                started.append(t + start_seconds)
            empty_since = None if queue > 0 else (empty_since if empty_since is not None else t)
            if replicas > 0 and empty_since is not None and t - empty_since >= rule.cooldown_period:
                replicas, started, activated_at = 0, deque(), None
        # The HPA KEDA creates on activation first acts at its next sync.
        if (
            replicas >= 1
            and activated_at is not None
            and t > activated_at
            and (t % HPA_SYNC_SECONDS == 0)
        ):
            desired = min(rule.max_replicas, max(1, math.ceil(queue / rule.message_count)))
            recommendations.append((t, desired))
            while recommendations and recommendations[0][0] < t - rule.down_window:
                recommendations.popleft()
            if desired > replicas and t - last_up >= rule.up_period:
                step = max(replicas * rule.up_percent // 100, rule.up_pods)
                target = min(desired, replicas + step, rule.max_replicas)
                started.extend([t + start_seconds] * (target - replicas))
                replicas, last_up = target, t
            elif desired < replicas and t - last_down >= rule.down_period:
                stabilized = max(d for _, d in recommendations)
                target = max(stabilized, replicas - rule.down_pods, 1)
                if target < replicas:
                    for _ in range(replicas - target):
                        started.pop()
                    replicas, last_down = target, t
        consuming = sum(1 for s in started if s <= t)
        queue = max(0.0, queue - (throughput(consuming) if consuming else 0.0))
        points.append(Point(t, queue, replicas, consuming))
        if queue == 0 and replicas == 0:
            break
    return points


def drain_second(points: list[Point]) -> int | None:
    """The first second at which the queue is empty."""
    return next((p.second for p in points if p.queue == 0), None)
