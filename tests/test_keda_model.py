"""The KEDA replay behind `make bench-scaleout` (bench/keda_model.py) follows the rule it claims:
the ScaledObject's own numbers, KEDA's activation and cooldown, the HPA's behaviour bounds."""

import itertools
from dataclasses import replace

from bench.keda_model import HPA_SYNC_SECONDS, ScalingRule, drain_second, simulate

RULE = ScalingRule.from_chart()


def per_replica(rate: float):
    return lambda consuming: consuming * rate


def test_the_rule_is_read_from_the_keda_chart() -> None:
    assert RULE.message_count == 8  # = host.json maxConcurrentCalls (tests/deploy checks that)
    assert (RULE.min_replicas, RULE.max_replicas) == (0, 10)


def test_a_burst_wakes_the_worker_scales_out_within_the_policies_and_drains() -> None:
    points = simulate(RULE, 20_000, per_replica(100), start_seconds=20)
    assert points[0].replicas == 1  # activated at the first polling tick
    assert max(p.replicas for p in points) == RULE.max_replicas
    for before, after in itertools.pairwise(points):
        grown = after.replicas - before.replicas
        assert grown <= max(before.replicas * RULE.up_percent // 100, RULE.up_pods)
    assert drain_second(points) is not None
    assert points[-1].replicas == 0  # back to zero after the cooldown


def test_replicas_consume_only_after_they_start() -> None:
    points = simulate(RULE, 5_000, per_replica(100), start_seconds=30)
    assert all(p.consuming == 0 for p in points[:30])
    assert points[29].queue == 5_000


def test_more_throughput_per_replica_drains_sooner() -> None:
    slow = drain_second(simulate(RULE, 20_000, per_replica(50)))
    fast = drain_second(simulate(RULE, 20_000, per_replica(200)))
    assert fast < slow


def test_a_small_queue_asks_for_few_replicas() -> None:
    points = simulate(RULE, RULE.message_count * 2, per_replica(0.01), horizon=120)
    assert max(p.replicas for p in points) <= 2


def test_scale_in_waits_for_the_stabilization_window_and_goes_one_pod_at_a_time() -> None:
    rule = replace(RULE, cooldown_period=10_000)  # keep KEDA from going to zero meanwhile
    points = simulate(rule, 20_000, per_replica(100), horizon=1_500)
    drained = drain_second(points)
    peak_at = max(p.second for p in points if p.replicas == rule.max_replicas)
    assert peak_at >= drained + rule.down_window - HPA_SYNC_SECONDS
    for before, after in itertools.pairwise(points):
        assert before.replicas - after.replicas <= rule.down_pods
    assert points[-1].replicas < rule.max_replicas
