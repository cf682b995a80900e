"""Stage 3, evaluate: lm-eval suites on every (model, criterion, level, task) cell, resumable.

    python -m repro evaluate                                   # every paper model and level
    python -m repro evaluate --models llama-3.2-1b --levels 0 40 --tasks mmlu gsm8k
    python -m repro evaluate --models llama-3.2-1b-instruct --variants paper chat
    python -m repro evaluate --shard 2/4 --results results     # one of four GPUs or nodes
    python -m repro evaluate --models smollm2-135m-instruct    # the CPU smoke model

How a cell is run (the paper's setting, made explicit):
- the base model is loaded once per model; each level is pruned in memory from one ranking
  per criterion (repro.prune), so untouched tensors are shared with the base;
- lm-eval's Python API (`simple_evaluate`) on the in-memory model, one call per task with that
  task's own few-shot count (a global num_fewshot is ignored or overrides silently otherwise);
- fixed max_length (the model's, from models.yaml: lm-eval would otherwise take 131072 from the
  Llama config), fixed seeds (lm-eval's defaults, recorded), batch_size "auto" on GPU;
- no answer cache (lm-eval keys it by request only, not by model: a shared cache would hand one
  configuration another's answers); samples kept as a gzipped JSONL attachment.
Each finished cell is written atomically with provenance (repro.cells). A rerun skips finished
cells and reruns missing, truncated or damaged ones, and those computed with other settings.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repro import cells as cellio
from repro import models, suites
from repro.errors import ReproError

log = logging.getLogger("repro.evaluate")

PAPER_MODELS = ("llama-3.2-1b", "llama-3.2-3b", "llama-3.2-1b-instruct")
# lm-eval 0.4.9.1's own defaults, fixed here so that a later default change cannot move them
SEEDS = {"random_seed": 0, "numpy_random_seed": 1234, "torch_random_seed": 1234,
         "fewshot_random_seed": 1234}
VARIANT_NAMES = {"paper": "", "chat": "chat"}  # CLI name -> tidy-data variant
SAMPLES = "samples.jsonl.gz"


# ---------------------------------------------------------------- the plan


@dataclass
class ModelPlan:
    """Everything a model's cells need, validated before any weights load."""

    spec: models.ModelSpec
    tasks: list[suites.TaskSpec]
    levels: list[float]
    criteria: list[str]
    variants: list[str]
    stage: str = "evaluate"
    dtype: str = ""
    variant_of_dtype: bool = False  # neuron selection: variant = dtype tag (fp16, bf16, fp32)
    cells: list[cellio.Cell] = field(default_factory=list)

    def build_cells(self) -> list[cellio.Cell]:
        out = []
        for v in self.variants:
            for c in self.criteria:
                for lv in self.levels:
                    if lv == 0 and c != self.criteria[0]:
                        continue  # the unpruned model does not depend on the criterion
                    crit = "maw" if lv == 0 else c
                    for t in self.tasks:
                        out.append(cellio.Cell(self.stage, self.spec.name, crit, lv, t.name, v))
        self.cells = sorted(set(out))
        return self.cells


@dataclass
class Settings:
    """Run settings that change numbers; a cell computed with others is rerun."""

    device: str
    batch_size: str
    limit: float | None
    bootstrap_iters: int
    max_length: int | None = None  # None: each model's own (models.yaml)
    dtype: str | None = None  # None: each model's own
    seed: int = 0  # of the 'random' criterion
    calibration: Path | None = None
    calibration_samples: int = 32

    def for_cell(self, spec: models.ModelSpec, dtype: str, criterion: str = "") -> dict[str, Any]:
        out = {"limit": self.limit, "bootstrap_iters": self.bootstrap_iters,
               "max_length": self.max_length or spec.max_length, "dtype": dtype,
               "revision": spec.revision, "seeds": SEEDS, "random_criterion_seed": self.seed}
        if criterion == "activation":  # other calibration text or windows: other kept neurons
            out["calibration"] = {"sha256": self.calibration_sha256(),
                                  "samples": self.calibration_samples}
        return out

    def calibration_sha256(self) -> str:
        from repro.tasks import calibration_text

        text = (self.calibration.read_text(encoding="utf-8") if self.calibration is not None
                else calibration_text())
        return hashlib.sha256(text.encode()).hexdigest()


def task_manager(tasks: Iterable[suites.TaskSpec]):
    """One lm-eval TaskManager for these tasks: the built-in index only when needed (~4 s)."""
    from lm_eval.tasks import TaskManager

    tasks = list(tasks)
    include = None
    if any(t.local for t in tasks):
        from repro.tasks import build

        include = str(build())
    return TaskManager(include_path=include, include_defaults=any(not t.local for t in tasks))


def check_tasks_exist(tm, tasks: Iterable[suites.TaskSpec]) -> None:
    known = set(tm.all_tasks)
    missing = [t.name for t in tasks if t.name not in known]
    if missing:
        import lm_eval

        raise ReproError(f"lm-eval {lm_eval.__version__} does not know task(s) {', '.join(missing)}; "
                         "check repro/config/suites.yaml against the pinned lm-eval version")


def make_plans(args: argparse.Namespace, *, stage: str = "evaluate") -> list[ModelPlan]:
    """Validate every model, suite, task, level, variant and criterion; no weights are loaded."""
    from repro import criteria

    names = args.models or list(PAPER_MODELS)
    plans = []
    crits = [criteria.canonical(c) for c in args.criteria]
    for name in names:
        spec = models.get(name)
        suite = args.suite or spec.suite
        if not suite:
            raise ReproError(f"{name} is a local model with no suite of its own: pass --suite")
        tasks = suites.resolve(suite, args.tasks)
        levels = spec.check_levels(args.levels) if args.levels else list(spec.levels)
        variants = [VARIANT_NAMES.get(v, v) for v in (args.variants or ["paper"])]
        spec.check_variants(variants)
        plans.append(ModelPlan(spec, tasks, levels, crits, variants, stage=stage,
                               dtype=args.dtype or spec.dtype))
    for p in plans:
        models.check_access(p.spec)
        if "activation" in p.criteria and args.calibration is not None and not args.calibration.is_file():
            raise ReproError(f"--calibration {args.calibration} is not a file; give a UTF-8 text file")
    return plans


# ---------------------------------------------------------------- one cell


def _jsonable(obj: Any) -> Any:
    from lm_eval.utils import handle_non_serializable

    return json.loads(json.dumps(obj, default=handle_non_serializable))


def _sha(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def samples_bytes(samples: dict[str, list]) -> bytes:
    """lm-eval's logged samples as gzipped JSONL (one line per document, with its task);
    mtime 0 so that identical samples give identical bytes."""
    from lm_eval.utils import handle_non_serializable

    lines = []
    for task, rows in sorted(samples.items()):
        for row in rows:
            lines.append(json.dumps({"task": task, **row}, sort_keys=True,
                                    default=handle_non_serializable))
    return gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)


def run_task(lm, task: suites.TaskSpec, tm, *, chat: bool, settings: Settings) -> dict:
    import lm_eval

    return lm_eval.simple_evaluate(
        model=lm, tasks=[task.name], num_fewshot=task.shots, task_manager=tm,
        limit=settings.limit, bootstrap_iters=settings.bootstrap_iters, log_samples=True,
        use_cache=None, apply_chat_template=chat, **SEEDS)


def cell_payload(raw: dict, task: suites.TaskSpec, info: dict, settings: dict) -> dict:
    shots = raw.get("n-shot", {})
    wrong = {k: v for k, v in shots.items() if v != task.shots}
    if wrong:
        log.warning("%s ran with shots %s, not %d as configured", task.name, wrong, task.shots)
    return _jsonable({
        "task": task.name, "metrics_kept": list(task.metrics), "subtasks_kept": task.subtasks,
        "expected_shots": task.shots, "results": raw.get("results", {}),
        "groups": raw.get("groups", {}), "group_subtasks": raw.get("group_subtasks", {}),
        "versions": raw.get("versions", {}), "n-shot": shots, "n-samples": raw.get("n-samples", {}),
        "higher_is_better": raw.get("higher_is_better", {}), "prune": info, "settings": settings,
    })


def lm_eval_record(raw: dict) -> dict:
    """lm-eval's own record of the run (without samples), with a hash per task config."""
    import lm_eval

    configs = raw.get("configs", {})
    keep = ("config", "git_hash", "date", "transformers_version", "lm_eval_version",
            "upper_git_hash", "tokenizer_pad_token", "tokenizer_eos_token", "tokenizer_bos_token",
            "eot_token_id", "max_length", "task_hashes", "pretty_env_info")
    rec = {k: raw[k] for k in keep if k in raw}
    rec.update(version=lm_eval.__version__, configs=configs,
               task_config_sha256={t: _sha(c) for t, c in configs.items()},
               versions=raw.get("versions", {}))
    return _jsonable(rec)


# ---------------------------------------------------------------- the runner


def is_done(root: Path, cell: cellio.Cell, settings: dict) -> bool:
    rec = cellio.read(root, cell)
    if rec is None:
        return False
    old = rec.get("payload", {}).get("settings")
    if old != _jsonable(settings):
        log.warning("%s was computed with other settings (%s); it will be recomputed",
                    cell.id, ", ".join(k for k in settings if (old or {}).get(k) != settings[k]))
        return False
    return True


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def default_batch_size(device: str) -> str:
    return "auto" if device.startswith("cuda") else "8"


def calibration_for(plan: ModelPlan, tokenizer, settings: Settings):
    """Calibration windows for 'activation': --calibration, else stdlib docstrings (documented
    default, shipped with Python: see repro.tasks.CALIBRATION_MODULES)."""
    from repro import criteria
    from repro.tasks import CALIBRATION_MODULES, calibration_text

    if settings.calibration is not None:
        text, source = settings.calibration.read_text(encoding="utf-8"), str(settings.calibration)
    else:
        text, source = calibration_text(), "python-stdlib-docstrings:" + ",".join(CALIBRATION_MODULES)
    batches = criteria.calibration_batches(tokenizer, text, samples=settings.calibration_samples)
    record = {"source": source, "sha256": hashlib.sha256(text.encode()).hexdigest(),
              "samples": settings.calibration_samples, "seq_len": 512}
    return batches, record


def run_plans(plans: list[ModelPlan], root: Path, settings: Settings, shard_spec: str | None,
              *, out=print) -> list[cellio.Cell]:
    """Evaluate every pending cell of this shard; return the cells written."""
    import torch

    from repro.loading import load
    from repro.provenance import provenance
    from repro.prune import Target, prune, rank

    root = Path(root)
    grid = [c for p in plans for c in p.build_cells()]
    mine = set(cellio.shard(grid, shard_spec))
    todo: dict[str, list[cellio.Cell]] = {}
    cell_settings: dict[cellio.Cell, dict] = {}
    for p in plans:
        for c in p.cells:
            cell_settings[c] = settings.for_cell(p.spec, p.dtype, c.criterion)
        todo[p.spec.name] = [c for c in p.cells
                             if c in mine and not is_done(root, c, cell_settings[c])]
    total = sum(len(v) for v in todo.values())
    out(f"{len(grid)} cells in the grid, {len(mine)} in shard {shard_spec or '1/1'}, "
        f"{total} to compute")
    progress = cellio.Progress(total)
    written = []
    for plan in plans:
        pending = todo[plan.spec.name]
        if not pending:
            continue
        spec = plan.spec
        tm = task_manager(plan.tasks)
        check_tasks_exist(tm, plan.tasks)
        path, gguf, revision = models.weights(spec)
        model, tok, source = load(path, revision=revision, gguf_file=gguf, dtype=plan.dtype,
                                  device=settings.device)
        max_length = settings.max_length or spec.max_length
        tasks = {t.name: t for t in plan.tasks}
        rankings: dict[str, Any] = {}
        calib_record = None
        for crit, level in sorted({(c.criterion, c.level) for c in pending}, key=lambda x: (x[1], x[0])):
            if crit not in rankings:
                calib = None
                if crit == "activation":
                    calib, calib_record = calibration_for(plan, tok, settings)
                rankings[crit] = rank(model, crit, seed=settings.seed, calibration=calib)
            pruned, info = prune(model, rankings[crit], Target(level=level))
            info = info.to_dict()
            if crit == "activation":
                info["calibration"] = calib_record
            lm = _hflm(pruned, tok, settings, max_length)
            for cell in [c for c in pending if (c.criterion, c.level) == (crit, level)]:
                t0 = time.monotonic()
                task = tasks[cell.task]
                torch.manual_seed(SEEDS["torch_random_seed"])
                raw = run_task(lm, task, tm, chat=cell.variant == "chat", settings=settings)
                elapsed = time.monotonic() - t0
                prov = provenance(
                    settings.device, stage=plan.stage, model=spec.record(), source=source,
                    dtype=plan.dtype, max_length=max_length,
                    batch_size={"requested": settings.batch_size,
                                "effective": getattr(lm, "batch_sizes", None) or lm.batch_size},
                    apply_chat_template=cell.variant == "chat", fewshot_as_multiturn=False,
                    system_instruction=None, seeds=SEEDS,
                    limit=settings.limit, bootstrap_iters=settings.bootstrap_iters,
                    use_cache=None, nltk_punkt_tab_stub=_stub_active(), seconds=round(elapsed, 2),
                    lm_eval=lm_eval_record(raw))
                payload = cell_payload(raw, task, info, cell_settings[cell])
                cellio.write(root, cell, payload, prov,
                             attachments={SAMPLES: samples_bytes(raw.get("samples", {}))})
                written.append(cell)
                progress.step(cell, elapsed)  # logs the line
            del lm, pruned
            gc.collect()
        del model, rankings
        gc.collect()
    return written


def _hflm(model, tokenizer, settings: Settings, max_length: int):
    from lm_eval.models.huggingface import HFLM

    bs = settings.batch_size
    return HFLM(pretrained=model, tokenizer=tokenizer, max_length=max_length,
                batch_size=bs if bs == "auto" or bs.startswith("auto:") else int(bs))


def _stub_active() -> bool:
    from repro.smoke import is_stub_active

    return is_stub_active()


# ---------------------------------------------------------------- CLI


def add_grid_arguments(p: argparse.ArgumentParser, *, criteria_default: list[str]) -> None:
    p.add_argument("--models", nargs="+", help=f"short names from models.yaml or local folders "
                   f"(default: {' '.join(PAPER_MODELS)})")
    p.add_argument("--suite", help="suite from suites.yaml (default: each model's own)")
    p.add_argument("--tasks", nargs="+", help="only these tasks of the suite")
    p.add_argument("--levels", nargs="+", help="only these levels (each must be in the model's list)")
    p.add_argument("--criteria", nargs="+", default=criteria_default,
                   help=f"neuron criteria (default: {' '.join(criteria_default)})")
    p.add_argument("--results", type=Path, default=Path("results"), help="cell root folder")
    p.add_argument("--shard", help="i/n: evaluate only the i-th of n disjoint parts of the grid")
    p.add_argument("--limit", type=float, help="documents per task (tests only; recorded)")
    p.add_argument("--device", help="cpu, cuda, cuda:1 (default: cuda when available)")
    p.add_argument("--batch-size", help="'auto' (default on GPU) or a number (default 8 on CPU)")
    p.add_argument("--max-length", type=int, help="lm-eval context length (default: models.yaml)")
    p.add_argument("--bootstrap-iters", type=int, default=100000,
                   help="lm-eval stderr bootstrap resamples (its default, as the paper)")
    p.add_argument("--seed", type=int, default=0, help="seed of the 'random' criterion")
    p.add_argument("--calibration", type=Path,
                   help="text for 'activation' (default: Python stdlib docstrings, see repro.tasks)")
    p.add_argument("--calibration-samples", type=int, default=32, help="windows of 512 tokens")
    p.add_argument("--dry-run", action="store_true", help="list the cells and their state, run nothing")


def configure(p: argparse.ArgumentParser) -> None:
    add_grid_arguments(p, criteria_default=["maw"])
    p.add_argument("--variants", nargs="+", choices=sorted(VARIANT_NAMES),
                   help="paper: no chat template (default); chat: lm-eval apply_chat_template")
    p.add_argument("--dtype", choices=sorted(models.DTYPES), help="default: each model's own")


def settings_from(args: argparse.Namespace) -> Settings:
    device = args.device or default_device()
    return Settings(device=device, batch_size=args.batch_size or default_batch_size(device),
                    limit=args.limit, bootstrap_iters=args.bootstrap_iters,
                    max_length=args.max_length, seed=args.seed, calibration=args.calibration,
                    calibration_samples=args.calibration_samples)


def dry_run(plans: list[ModelPlan], root: Path, settings: Settings, shard_spec: str | None) -> int:
    grid = [c for p in plans for c in p.build_cells()]
    mine = cellio.shard(grid, shard_spec)
    by_model = {p.spec.name: p for p in plans}
    for c in mine:
        p = by_model[c.model]
        state = "done" if is_done(root, c, settings.for_cell(p.spec, p.dtype, c.criterion)) else "pending"
        print(f"{state:8} {c.id}")
    return 0


def prepare_nltk(plans: list[ModelPlan]) -> None:
    """IFEval scoring needs nltk's punkt_tab. Local smoke tasks alone: the offline stand-in
    (repro.smoke); the real ifeval: the real data, checked here before any weights load."""
    from repro.smoke import is_stub_active, use_nltk_stub

    names = {t.name for p in plans for t in p.tasks}
    if "ifeval" in names:
        try:
            import nltk

            nltk.data.find("tokenizers/punkt_tab/english/")
            found = not is_stub_active()
        except LookupError:
            found = False
        if not found:
            raise ReproError("ifeval needs nltk's punkt_tab data (not the smoke stand-in): run "
                             "`python -m nltk.downloader punkt_tab` or set NLTK_DATA to a folder holding it")
    elif any(t.local for p in plans for t in p.tasks):
        use_nltk_stub()


def execute(args: argparse.Namespace, plans: list[ModelPlan]) -> int:
    """List (--dry-run) or run this shard's cells of `plans`; shared with neuron selection."""
    settings = settings_from(args)
    if args.dry_run:
        return dry_run(plans, args.results, settings, args.shard)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    prepare_nltk(plans)
    run_plans(plans, args.results, settings, args.shard)
    return 0


def run(args: argparse.Namespace) -> int:
    cellio.parse_shard(args.shard)
    return execute(args, make_plans(args))
