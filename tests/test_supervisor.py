"""`make dev`'s supervisor (dev/supervisor.py): a process that dies is reported with its exit
status and started again while the others keep running; Ctrl-C stops them all."""

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from dev.server_process import wait_until
from tests.conftest import REPO

STEADY = "import os, time; print('steady up', os.getpid(), flush=True); time.sleep(120)"
CRASHER = "import sys; print('crasher about to fail', flush=True); sys.exit(3)"


def test_a_crashed_process_is_restarted_and_the_others_stay_up(tmp_path: Path):
    procfile = tmp_path / "Procfile"
    procfile.write_text(
        f'steady: $PYTHON -c "{STEADY}"\ncrasher: $PYTHON -c "{CRASHER}"\n', encoding="utf-8"
    )
    log = tmp_path / "out.log"
    with log.open("w") as out:
        supervisor = subprocess.Popen(
            [sys.executable, "-m", "dev.supervisor", str(procfile), "--first-delay", "0.2"],
            cwd=REPO,
            env={**os.environ, "PYTHON": sys.executable, "PYTHONUNBUFFERED": "1"},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            restarted = wait_until(
                lambda: log.read_text().count("crasher about to fail") >= 3,
                timeout=20,
                alive=lambda: supervisor.poll() is None,
            )
            output = log.read_text()
            assert restarted, output
            assert supervisor.poll() is None  # the supervisor itself did not stop
        finally:
            os.killpg(supervisor.pid, signal.SIGINT)  # Ctrl-C in a terminal
            supervisor.wait(timeout=20)
    output = log.read_text()

    [steady_pid] = {int(p) for p in re.findall(r"steady up (\d+)", output)}  # never restarted
    assert re.search(r"crasher exited with status 3 .*restarting", output), output
    assert "steady exited" not in output.split("stopping")[0]
    assert wait_until(lambda: not _alive(steady_pid), timeout=10), "left running after Ctrl-C"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"  # not a zombie


def test_the_dev_procfile_runs_under_the_supervisor():
    from dev import stack, supervisor

    programs = supervisor.read_procfile(stack.PROCFILE)
    assert {p.name for p in programs} == {
        "catalog",
        "orders",
        "oidc",
        "cosmos",
        "worker",
        "ui",
        "prometheus",
    }
    assert "honcho" not in (REPO / "dev" / "stack.py").read_text()
