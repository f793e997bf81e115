"""A backlog burst that scales the worker out, and KEDA's replay of it.

Orders pile up while no worker runs; several worker
processes (`python -m functions.worker`, as KEDA would add replicas) drain it, and the KEDA
replay (bench/keda_model.py, the rule read from keda/values.yaml) shows the replicas the same
per-replica rate would get on AKS for a large burst."""

import os
import subprocess
import sys
import time

from bench import keda_model
from labs.stack import REPO, LabResult, Narrate, Stack

BURST = 60_000  # the modelled burst, as in bench/scaleout.py


def run(lab: Stack, say: Narrate, orders: int = 12, processes: int = 3) -> LabResult:
    with lab.shopper() as shopper:
        before = lab.counts()
        say(f"before: {before}")
        lab.stop_workers()
        statuses = [lab.checkout(shopper).status_code for _ in range(orders)]
        during = lab.counts()
        say(f"FAULT: {orders} checkouts with no worker running -> queue depth {during.queued}")
        env = {
            **os.environ,
            "LOCAL_BUS_DATABASE_URL": lab.bus_db,
            "EVENT_BUS_QUEUE": lab.queue.queue,
            "COSMOS_ENDPOINT": lab.cosmos.endpoint,
            "COSMOS_KEY": lab.cosmos.key,
            "WORKER_IDLE_SECONDS": "0.05",
            "LOG_LEVEL": "WARNING",
        }
        workers = [
            subprocess.Popen([sys.executable, "-m", "functions.worker"], cwd=REPO, env=env)
            for _ in range(processes)
        ]
        say(f"SCALE: {processes} worker processes started (pids {[w.pid for w in workers]})")
        began = time.perf_counter()
        try:
            after = lab.settle(seconds=30)
            seconds = time.perf_counter() - began
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.wait(timeout=30)
        lab.start_workers(1)
        say(f"after: {after} (drained in {seconds:.1f} s, process start-up included)")
        rule = keda_model.ScalingRule.from_chart()
        per_replica = orders / seconds / processes
        points = keda_model.simulate(rule, BURST, lambda n: n * per_replica)
        peak = max(p.replicas for p in points)
        drained = keda_model.drain_second(points)
        say(
            f"KEDA replay (modelled): {BURST:,} messages at {per_replica:.1f} msg/s per replica, "
            f"messageCount={rule.message_count}, max {rule.max_replicas} -> peak {peak} "
            f"replicas, drained after {drained} s"
        )
    return LabResult(
        before,
        after,
        {
            "checkouts": statuses,
            "queued_during": during.queued,
            "peak_replicas": peak,
            "max_replicas": rule.max_replicas,
            "drained_second": drained,
        },
    )
