"""Figures, targets and saved runs: what `make bench` prints and compares across commits.

Every measured number is a `Figure` with a dotted key (`catalog.get_product.rps`). Targets are
ratios or bounds over figures, each printed as met / NOT MET (benchmarks never fail the build).
A run is saved as JSON under `.bench/` (gitignored), named by time and git commit, and the
next run prints its delta against the last saved run of the same mode (quick or full).
"""

import json
import operator
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

RESULTS_DIR = Path(__file__).resolve().parents[1] / ".bench"

Better = Literal["higher", "lower"]


@dataclass(frozen=True)
class Figure:
    key: str
    value: float
    unit: str
    label: str = ""
    better: Better = "higher"


@dataclass(frozen=True)
class Target:
    """`numerator` (/ `denominator`, when given) compared with `threshold` by `op`."""

    key: str
    description: str
    numerator: str
    op: Literal[">=", "<="]
    threshold: float
    denominator: str | None = None

    def value(self, figures: Mapping[str, Figure]) -> float | None:
        top = figures.get(self.numerator)
        if top is None:
            return None
        if self.denominator is None:
            return top.value
        bottom = figures.get(self.denominator)
        if bottom is None or bottom.value == 0:
            return None
        return top.value / bottom.value

    def met(self, figures: Mapping[str, Figure]) -> bool | None:
        value = self.value(figures)
        if value is None:
            return None
        return {">=": operator.ge, "<=": operator.le}[self.op](value, self.threshold)

    def line(self, figures: Mapping[str, Figure]) -> str:
        value, met = self.value(figures), self.met(figures)
        shown = "not measured" if value is None else f"{value:.3g}"
        verdict = {True: "met", False: "NOT MET", None: "-"}[met]
        bound = f"{self.op} {self.threshold:g}" + ("x" if self.denominator else "")
        return f"  {verdict:<8} {shown:>12} {bound:<9} {self.description}"


@dataclass
class Run:
    """One `make bench` run: its figures, the targets it checked, and where it ran."""

    mode: str
    commit: str
    dirty: bool
    started_at: str
    settings: dict[str, object] = field(default_factory=dict)
    figures: dict[str, Figure] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)

    def record(self, figure: Figure) -> Figure:
        self.figures[figure.key] = figure
        return figure

    def to_json(self) -> dict[str, object]:
        return {
            "mode": self.mode,
            "commit": self.commit,
            "dirty": self.dirty,
            "started_at": self.started_at,
            "settings": self.settings,
            "figures": {k: asdict(f) for k, f in sorted(self.figures.items())},
            "targets": [
                {**asdict(t), "value": t.value(self.figures), "met": t.met(self.figures)}
                for t in self.targets
            ],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> "Run":
        figures = {k: Figure(**f) for k, f in dict(data["figures"]).items()}  # type: ignore[call-overload]
        return cls(
            mode=str(data["mode"]),
            commit=str(data["commit"]),
            dirty=bool(data["dirty"]),
            started_at=str(data["started_at"]),
            settings=dict(data.get("settings", {})),  # type: ignore[call-overload]
            figures=figures,
        )

    def filename(self) -> str:
        stamp = datetime.fromisoformat(self.started_at).strftime("%Y%m%dT%H%M%SZ")
        return f"{stamp}-{self.commit[:12]}{'-dirty' if self.dirty else ''}-{self.mode}.json"

    def save(self, directory: Path = RESULTS_DIR) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / self.filename()
        path.write_text(json.dumps(self.to_json(), indent=1) + "\n")
        return path


def new_run(mode: str) -> Run:
    commit, dirty = git_commit()
    return Run(mode, commit, dirty, datetime.now(UTC).isoformat(timespec="seconds"))


def git_commit() -> tuple[str, bool]:
    """(HEAD's sha, whether the work tree has uncommitted changes); ("unknown", True) outside
    a git checkout."""
    root, git = RESULTS_DIR.parent, shutil.which("git")
    if git is None:
        return "unknown", True
    try:
        sha = subprocess.run(
            [git, "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        status = subprocess.run(
            [git, "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown", True
    return sha, bool(status.strip())


def last_saved(mode: str, directory: Path = RESULTS_DIR, before: str | None = None) -> Run | None:
    """The newest saved run of `mode` (started before `before`, an ISO time, when given)."""
    runs = []
    for path in directory.glob(f"*-{mode}.json"):
        try:
            run = Run.from_json(json.loads(path.read_text()))
        except (ValueError, KeyError, TypeError):
            continue  # a file of an older format, or a half-written one: not comparable
        if before is None or run.started_at < before:
            runs.append(run)
    return max(runs, key=lambda r: r.started_at, default=None)


@dataclass(frozen=True)
class Delta:
    key: str
    before: float
    after: float
    better: Better

    @property
    def change(self) -> float:
        """Relative change, after / before - 1 (0.1 is +10%)."""
        return self.after / self.before - 1 if self.before else float("inf")

    @property
    def improved(self) -> bool:
        return self.change > 0 if self.better == "higher" else self.change < 0


def deltas(before: Run, after: Run) -> list[Delta]:
    """Figures present in both runs, in key order."""
    return [
        Delta(key, before.figures[key].value, figure.value, figure.better)
        for key, figure in sorted(after.figures.items())
        if key in before.figures
    ]


def delta_lines(before: Run, after: Run, noise: float = 0.05) -> list[str]:
    """One line per common figure; a change beyond `noise` is marked better/worse."""
    out = [f"delta against {before.commit[:12]} ({before.started_at}, {before.mode}):"]
    for d in deltas(before, after):
        mark = ""
        if abs(d.change) > noise:
            mark = "better" if d.improved else "WORSE"
        out.append(f"  {d.key:<52} {d.before:>10.4g} -> {d.after:>10.4g}  {d.change:+7.1%} {mark}")
    return out


def target_lines(targets: Iterable[Target], figures: Mapping[str, Figure]) -> list[str]:
    return [t.line(figures) for t in targets]
