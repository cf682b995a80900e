"""Benchmark suites as data: repro/config/suites.yaml, validated.

    from repro import suites
    tasks = suites.resolve(suite="paper13", tasks=None)   # [TaskSpec, ...] in suite order
    tasks = suites.resolve(suite="paper13", tasks=["mmlu", "gsm8k"])  # a filtered subset

A task spec carries the lm-eval task name, its own few-shot count (each task is evaluated in
its own call with its own shots) and the result keys (`metric,filter`) the tidy data keeps.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from repro.errors import ReproError

CONFIG = Path(__file__).resolve().parent / "config" / "suites.yaml"
TASK_FIELDS = {"shots", "metrics", "subtasks", "local"}


@dataclass(frozen=True)
class TaskSpec:
    name: str
    shots: int
    metrics: tuple[str, ...]
    subtasks: bool = False
    local: bool = False

    def keeps(self, key: str) -> bool:
        return key in self.metrics


def _bad(what: str) -> ReproError:
    return ReproError(f"{CONFIG.name}: {what}")


def _load(path: Path) -> tuple[dict[str, TaskSpec], dict[str, list[str]]]:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ReproError(f"{path}: cannot read the suites ({exc}); restore it from git") from exc
    if not isinstance(data, dict) or set(data) != {"tasks", "suites"}:
        raise _bad("expected top-level 'tasks:' and 'suites:' only")
    tasks = {}
    for name, raw in data["tasks"].items():
        if not isinstance(raw, dict) or set(raw) - TASK_FIELDS:
            raise _bad(f"task '{name}': unknown field(s) {sorted(set(raw or {}) - TASK_FIELDS)}")
        shots, metrics = raw.get("shots"), raw.get("metrics")
        if not isinstance(shots, int) or shots < 0:
            raise _bad(f"task '{name}': shots must be a whole number >= 0")
        if not metrics or not all(isinstance(m, str) and m.count(",") == 1 for m in metrics):
            raise _bad(f"task '{name}': metrics must be lm-eval keys like 'acc,none'")
        tasks[name] = TaskSpec(name, shots, tuple(metrics), bool(raw.get("subtasks", False)),
                               bool(raw.get("local", False)))
    suites = {}
    for name, lst in data["suites"].items():
        if not isinstance(lst, list) or not lst:
            raise _bad(f"suite '{name}' must be a non-empty list of task names")
        unknown = [t for t in lst if t not in tasks]
        if unknown:
            raise _bad(f"suite '{name}' names unknown task(s) {', '.join(unknown)}")
        if len(set(lst)) != len(lst):
            raise _bad(f"suite '{name}' lists a task twice")
        suites[name] = list(lst)
    return tasks, suites


def load_tasks(path: str | Path = CONFIG) -> dict[str, TaskSpec]:
    return _load(Path(path))[0]


def load_suites(path: str | Path = CONFIG) -> dict[str, list[str]]:
    return _load(Path(path))[1]


def resolve(suite: str, tasks: list[str] | None = None, *, path: str | Path = CONFIG) -> list[TaskSpec]:
    """The suite's task specs, in suite order, optionally filtered to `tasks` (all must be in it)."""
    known_tasks, known_suites = _load(Path(path))
    if suite not in known_suites:
        raise ReproError(f"unknown suite '{suite}'; choose one of {', '.join(known_suites)}")
    names = known_suites[suite]
    if tasks:
        bad = [t for t in tasks if t not in names]
        if bad:
            where = ("it is in suites.yaml but not in this suite" if all(t in known_tasks for t in bad)
                     else "not a task of the kit")
            raise ReproError(f"unknown task(s) {', '.join(bad)} for suite '{suite}' ({where}); "
                             f"choose from {', '.join(names)}")
        names = [t for t in names if t in tasks]
    return [known_tasks[t] for t in names]
