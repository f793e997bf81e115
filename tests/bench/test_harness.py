"""The bench harness' own parts: wrk summary parsing (and the Lua report hook against a real
wrk and server), CPU accounting from /proc, targets, saved runs and their delta. No timings are
asserted: the bench measures, these tests check the bookkeeping."""

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import psycopg
import pytest

from bench import cpu, wrk
from bench.results import Figure, Run, Target, delta_lines, deltas, last_saved

WRK_OUTPUT = """Running 2s test @ http://127.0.0.1:4242
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.05ms  612.00us  12.00ms   90.00%
  9000 requests in 2.00s, 1.50MB read
Requests/sec:   4500.00
WRK_JSON {"requests":9000,"duration_us":2000000,"bytes":1572864,\
"errors":{"connect":0,"read":1,"write":0,"status":3,"timeout":0},\
"latency_us":{"mean":3050.5,"max":12000,"p50":2900,"p90":3600,"p99":7100}}
"""


def test_wrk_summary_is_read_from_the_report_hook_line():
    result = wrk.parse(WRK_OUTPUT)

    assert result.requests == 9000
    assert result.seconds == 2.0
    assert result.throughput == 4500.0
    assert (result.p50_ms, result.p90_ms, result.p99_ms) == (2.9, 3.6, 7.1)
    assert result.mean_ms == pytest.approx(3.0505)
    assert result.failed == 4  # 1 read error + 3 non-2xx/3xx answers


def test_wrk_output_without_a_summary_is_an_error_not_zero_requests():
    with pytest.raises(wrk.WrkError, match="no summary"):
        wrk.parse("Running 2s test @ http://127.0.0.1:4242\nunable to connect\n")


def test_a_script_may_not_replace_the_report_hook():
    with pytest.raises(ValueError, match="done"):
        wrk.run("http://127.0.0.1:1", "done = function() end", connections=1, seconds=1)


class _Counting(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Head and body go out as two writes: with Nagle on, the body waits for the client's
    # delayed ACK (~40 ms a request), and a second of wrk is ~45 requests, too few for the
    # server's CPU to pass one clock tick in every round.
    disable_nagle_algorithm = True
    paths: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).paths.append(self.path)
        status = 404 if self.path == "/missing" else 200
        self.send_response(status)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


def test_real_wrk_runs_the_path_mix_and_reports_through_the_hook():
    _Counting.paths = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        result = wrk.run(url, wrk.paths_lua(["/a", "/b", "/missing"]), connections=2, seconds=1)
    finally:
        server.shutdown()
        server.server_close()

    served = len(_Counting.paths)
    assert result.requests > 0
    assert result.requests <= served  # wrk counts completed requests only
    assert set(_Counting.paths) == {"/a", "/b", "/missing"}
    # Every /missing answer is a status error; nothing else failed.
    assert result.errors["status"] == pytest.approx(result.requests / 3, abs=3)
    assert result.errors["connect"] == result.errors["timeout"] == 0


def test_paths_lua_lists_every_path_as_a_lua_string():
    script = wrk.paths_lua(["/products?ids=a,b", '/x"y'])
    assert '"/products?ids=a,b"' in script
    assert '"/x\\"y"' in script
    with pytest.raises(ValueError, match="at least one"):
        wrk.paths_lua([])


def test_proc_stat_fields_are_counted_from_the_last_parenthesis():
    # A command name with spaces and a ')' must not shift the fields.
    line = "4242 (odd) name) S 17 4242 4242 0 -1 4194560 1 0 0 0 250 150 3 4 20 0 1 0 99 0 0"
    ppid, seconds = cpu.parse_stat(line, ticks_per_second=100)
    assert ppid == 17
    assert seconds == pytest.approx(4.0)  # (250 + 150) ticks / 100


def test_cpu_spent_counts_only_processes_seen_before_and_after():
    before = {1: 1.0, 2: 5.0, 3: 2.0}
    after = {1: 1.5, 2: 7.0, 4: 9.0}  # 3 ended, 4 started: neither is counted
    assert cpu.spent(before, after) == pytest.approx(2.5)


def test_cpu_meter_sees_this_process_burn_cpu():
    with cpu.CpuMeter({"me": {os.getpid()}}) as meter:
        deadline = time.process_time() + 0.2
        while time.process_time() < deadline:
            pass
    assert meter.seconds["me"] >= 0.15
    assert meter.per_request_ms(10)["me"] == pytest.approx(meter.seconds["me"] * 100)


def test_descendants_include_the_children_of_a_process():
    assert os.getpid() in cpu.descendants(os.getppid())
    assert cpu.descendants(os.getpid()) >= {os.getpid()}


def _run(started_at: str, mode: str = "full", **values: float) -> Run:
    run = Run(mode, "c0ffee" * 7, False, started_at)
    for key, value in values.items():
        better = "lower" if key.endswith("ms") else "higher"
        run.record(Figure(key.replace("__", "."), value, "x", better=better))  # type: ignore[arg-type]
    return run


def test_targets_compare_ratios_and_bounds():
    run = _run("2026-01-01T00:00:00+00:00", app__rps=450.0, ref__rps=1000.0, trips=9.0)
    ratio = Target("t1", "app vs ref", "app.rps", ">=", 0.45, "ref.rps")
    bound = Target("t2", "round trips", "trips", "<=", 8)
    missing = Target("t3", "never measured", "nope", ">=", 1)

    assert ratio.value(run.figures) == pytest.approx(0.45)
    assert ratio.met(run.figures) is True
    assert bound.met(run.figures) is False
    assert missing.met(run.figures) is None
    assert "NOT MET" in bound.line(run.figures)
    assert "not measured" in missing.line(run.figures)


def test_delta_against_the_last_saved_run_of_the_same_mode(tmp_path: Path):
    old = _run("2026-01-01T00:00:00+00:00", a__rps=100.0, a__p50_ms=10.0)
    older = _run("2025-12-01T00:00:00+00:00", a__rps=1.0)
    quick = _run("2026-01-02T00:00:00+00:00", "quick", a__rps=5.0)
    for run in (old, older, quick):
        run.save(tmp_path)
    (tmp_path / "20260103T000000-broken-full.json").write_text("{not json")
    new = _run("2026-01-04T00:00:00+00:00", a__rps=120.0, a__p50_ms=12.0, b__rps=3.0)

    previous = last_saved("full", tmp_path, before=new.started_at)

    assert previous is not None
    assert previous.started_at == old.started_at
    by_key = {d.key: d for d in deltas(previous, new)}
    assert set(by_key) == {"a.rps", "a.p50_ms"}  # b.rps is new: no delta
    assert by_key["a.rps"].change == pytest.approx(0.2)
    assert by_key["a.rps"].improved
    assert by_key["a.p50_ms"].change == pytest.approx(0.2)
    assert not by_key["a.p50_ms"].improved  # higher latency is worse
    text = "\n".join(delta_lines(previous, new))
    assert "+20.0% better" in text
    assert "+20.0% WORSE" in text


def test_a_saved_run_is_json_with_commit_time_figures_and_target_verdicts(tmp_path: Path):
    run = _run("2026-01-01T00:00:00+00:00", app__rps=50.0, ref__rps=100.0)
    run.targets.append(Target("t", "half", "app.rps", ">=", 0.9, "ref.rps"))

    saved = json.loads(run.save(tmp_path).read_text())

    assert saved["commit"] == run.commit
    assert saved["figures"]["app.rps"]["value"] == 50.0
    assert saved["targets"][0]["value"] == pytest.approx(0.5)
    assert saved["targets"][0]["met"] is False
    assert Run.from_json(saved).figures == run.figures


def test_round_robin_figures_are_medians_recorded_per_key():
    from bench.harness import Bench, Http

    _Counting.paths = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    bench = Bench(Run("quick", "c0ffee", False, "2026-01-01T00:00:00+00:00"), quick=True)
    bench.connections = 2
    try:
        results = bench.http_rounds(
            [
                Http("a", "path a", url, wrk.paths_lua(["/a"]), {"server": {os.getpid()}}),
                Http("b", "path b", url, wrk.paths_lua(["/b"]), {"server": {os.getpid()}}),
            ],
            rounds=2,
        )
    finally:
        server.shutdown()
        server.server_close()

    assert [len(results["a"].measured), len(results["b"].measured)] == [2, 2]
    assert results["a"].warmup.requests > 0  # warmed up, apart from the measured rounds
    measured = [r.result.throughput for r in results["a"].measured]
    assert bench.run.figures["a.rps"].value == pytest.approx(sum(measured) / 2)  # median of 2
    server_cpu = [r.cpu_ms["server"] for r in results["a"].measured]  # each round's own
    assert all(ms > 0 for ms in server_cpu)
    assert bench.run.figures["a.cpu_ms.server"].value == pytest.approx(sum(server_cpu) / 2)
    assert set(_Counting.paths) == {"/a", "/b"}
    for key in ("a", "b"):
        assert bench.run.figures[f"{key}.cpu_ms.server"].value > 0  # this process served them
        assert bench.run.figures[f"{key}.cpu_ms.wrk"].value > 0


def test_ratios_pair_the_rounds_so_a_drifting_machine_moves_both_sides_alike():
    from bench.stats import per_round

    # The machine halves its speed after round 1: both sides slow down in the same round.
    checkout = [4.0, 8.0, 4.2]
    raw = [1.0, 2.0, 1.4]
    ratios = per_round(checkout, raw)

    assert ratios == pytest.approx([4.0, 4.0, 3.0])
    assert statistics.median(ratios) == pytest.approx(4.0)
    # A ratio of medians mixes rounds: 4.2 / 1.4 = 3.0, flattering the code.
    assert statistics.median(checkout) / statistics.median(raw) == pytest.approx(3.0)


def test_a_ratio_of_rounds_is_recorded_as_their_median_and_printed_round_by_round(capsys):
    from bench.harness import Bench

    bench = Bench(Run("quick", "c0ffee", False, "2026-01-01T00:00:00+00:00"), quick=True)

    median = bench.ratio("x.vs_raw", "checkout / raw", [4.0, 8.0, 4.2], [1.0, 2.0, 1.4], "lower")

    assert median == pytest.approx(4.0)
    figure = bench.run.figures["x.vs_raw"]
    assert (figure.value, figure.unit, figure.better) == (pytest.approx(4.0), "x", "lower")
    assert "checkout / raw: per round 4.00, 4.00, 3.00; median 4.00" in capsys.readouterr().out


def test_rounds_that_do_not_pair_up_are_an_error_not_a_shorter_ratio():
    from bench.stats import per_round

    with pytest.raises(ValueError, match="do not pair up"):
        per_round([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="do not pair up"):
        per_round([], [])


def test_the_before_tree_is_a_commits_functions_package_alone_and_is_removed_after():
    from bench import before

    with before.exported_tree("HEAD") as root:
        exported = (root / "functions" / "orders" / "api.py").read_text()
        committed = subprocess.run(
            ["git", "show", "HEAD:functions/orders/api.py"],
            cwd=before.REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        top_level = sorted(p.name for p in root.iterdir())

    assert exported == committed  # the commit's file, not the work tree's
    assert top_level == ["functions"]
    assert not root.exists()


def test_a_commit_missing_from_the_history_means_no_before_not_another_measurement():
    from bench import before

    with pytest.raises(before.Unavailable, match="git archive"), before.exported_tree("0" * 40):
        pass


def test_without_the_old_tree_a_suite_gets_none_and_the_reason_is_printed(capsys):
    from bench import before

    with before.old_code("0" * 40) as old:
        assert old is None

    assert "(no 'before' in this run: git archive" in capsys.readouterr().out


def test_an_old_trees_catalog_database_alone_is_migrated_and_seeded_by_that_trees_code(
    postgres_admin_url,
):
    """The catalog suite serves catalog as it was before issue 17 on a database of its own,
    prepared by the old code without orders' or the bus's tables (HEAD stands in for the old
    commit: the same function, run in the exported tree)."""
    from bench import before
    from dev.postgres.launcher import fresh_database
    from functions.catalog.seed import seed_products

    with (
        before.exported_tree("HEAD") as root,
        fresh_database(postgres_admin_url, "test_before_catalog") as url,
    ):
        before.prepare_databases(Path(sys.executable), root, url)
        with psycopg.connect(url, autocommit=True) as conn:
            products = conn.execute("SELECT count(*) FROM products").fetchone()[0]
            others = conn.execute(
                "SELECT to_regclass('orders'), to_regclass('outbox'), to_regclass('messages')"
            ).fetchone()

    assert products == len(seed_products())
    assert others == (None, None, None)
