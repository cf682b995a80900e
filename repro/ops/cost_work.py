"""What each stage of a pipeline profile will compute, counted without running it (no torch):
cells, lm-eval requests, prompt and generated tokens, and the device work behind them as Jobs
(forwards, decode steps, adaptive requests, sleeps) that repro/ops/cost_rates.py prices.

    work = stage_work("evaluate", ctx, "paper")     # a StageWork; ctx: the run's models, levels...

Cells come from the stages' own planners (repro.evaluate.plan.ModelPlan, the sensitivity grid,
repro.efficiency.cells); the work per cell from repro/config/costs.yaml and the task sizes.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

from repro.config import models, suites
from repro.config.costs import Setting, TaskCost, costs
from repro.config.efficiency import PROTOCOLS, EfficiencyConfig, protocol_of
from repro.config.efficiency import load_config as efficiency_config
from repro.config.evaluation import kv_bytes_per_token
from repro.config.extensions import extensions
from repro.config.neuron_selection import neuron_selection
from repro.config.rehearsal import rehearsal_config
from repro.core import rehearsal
from repro.core.errors import ReproError
from repro.core.pruning import CALIBRATED, UNIFORM
from repro.prune.widths import keep_count

DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}


@dataclass(frozen=True)
class Shape:
    """A GLU decoder's sizes, for FLOPs and bytes per token (efficiency.yaml `shapes`, else
    models.yaml with Llama-like defaults)."""

    name: str
    hidden: int
    intermediate: int
    layers: int
    vocab: int
    kv_dim: int
    tied: bool
    dtype: str

    def params(self, level: float = 0.0) -> float:
        k = keep_count(self.intermediate, level)
        per_layer = 3 * self.hidden * k + 2 * self.hidden * self.hidden + 2 * self.hidden * self.kv_dim
        return self.layers * per_layer + self.vocab * self.hidden * (1 if self.tied else 2)

    def weight_bytes(self, level: float = 0.0) -> float:
        return self.params(level) * DTYPE_BYTES.get(self.dtype, 4)

    def kv_bytes_per_token(self) -> int:
        """Keys and values of every layer (repro/evaluate/fast.py's rule for generation batches)."""
        return kv_bytes_per_token(self.layers, self.kv_dim, DTYPE_BYTES.get(self.dtype, 4))


def hf_shape(name: str) -> dict | None:
    """A model's config dict for pricing and probing: its stand-in's in a rehearsal
    (REPRO_REHEARSAL=1: rehearsal.yaml), else efficiency.yaml's `shapes` (None: not there)."""
    if rehearsal.active():
        return rehearsal_config().hf_shape(name)
    return efficiency_config().shapes.get(name)


def task_cost(task: str) -> tuple[TaskCost, int]:
    """A task's work per item and its items: the stand-ins' in a rehearsal (rehearsal.yaml)."""
    if not rehearsal.active():
        return costs().task(task), costs().items(task)
    found = rehearsal_config().tasks.get(task)
    if found is None:
        raise ReproError(f"task '{task}' has no stand-in size in repro/config/rehearsal.yaml; add "
                         "it (items, kind, forwards, requests, tokens) to price a rehearsal")
    return found, found.items


def shape_of(name: str, dtype: str | None = None) -> Shape:
    return _shape(name, dtype, rehearsal.active())


@functools.cache
def _shape(name: str, dtype: str | None, tiny: bool) -> Shape:  # tiny: a rehearsal's (cache key)
    spec = models.get(name)
    raw = hf_shape(name)
    if raw is not None:
        heads, kv = raw["num_attention_heads"], raw["num_key_value_heads"]
        head_dim = raw.get("head_dim") or raw["hidden_size"] // heads
        return Shape(name, raw["hidden_size"], raw["intermediate_size"], raw["num_hidden_layers"],
                     raw["vocab_size"], kv * head_dim, bool(raw.get("tie_word_embeddings")),
                     dtype or spec.dtype)
    h = spec.hidden_size or 64
    return Shape(name, h, spec.intermediate_size or 4 * h, spec.num_layers or 2, 32000, h, False,
                 dtype or spec.dtype)


def _gb(model: str) -> float:
    return shape_of(model).weight_bytes() / 1e9


@dataclass(frozen=True)
class Job:
    """Device work of one kind. forward: `count` forwards of batch x tokens; decode: `count`
    steps at `batch`; request: one fixed-length generate (tokens prompt, new tokens), repeated
    adaptively (efficiency.yaml `corrected.repetitions`) after `warmups`; sleep: seconds."""

    kind: str
    model: str
    level: float
    count: float = 0.0
    batch: int = 1
    tokens: float = 0.0
    new: int = 0
    warmups: int = 0
    metered: bool = False


@dataclass
class StageWork:
    stage: str
    cells: int = 0
    requests: float = 0.0
    prompt_tokens: float = 0.0
    generated_tokens: float = 0.0
    jobs: list[Job] = field(default_factory=list)
    lm_eval_cells: int = 0          # lm-eval calls: per-cell host work
    subtasks: int = 0               # ... and per task of a group (mmlu's 57 subjects)
    lm_eval_requests: float = 0.0   # ... and per-request host work
    built_tokens: float = 0.0       # tokens of the requests lm-eval builds, once per model and
    built: set = field(default_factory=set)  # task: later levels reuse them (level_free.py)
    written: int = 0                # lm-eval cells the kit writes with provenance and samples
    written_gb: float = 0.0         # ... and their models' weights (the kit's work per cell grows with them)
    rankings: int = 0               # (model, criterion) rankings: every layer scored once
    ranked_gb: float = 0.0          # ... and the weights they read
    starts: int = 1                 # stage processes
    loads: list[str] = field(default_factory=list)   # models loaded
    sleep_s: float = 0.0            # idle-power calibration
    fixed_s: float = 0.0            # work priced as a constant (downloads, reports)
    note: str = ""

    def add_lm_eval(self, model: str, level: float, task: str, setting: Setting, device: str,
                    max_length: int, limit: int | None = None) -> None:
        """One lm-eval call (a cell) of `task` on `model` pruned at `level`."""
        c, items = task_cost(task)
        items = min(items, limit) if limit else items
        shape = shape_of(model)
        b = setting.batch(c.kind, c.tokens + c.max_gen, shape.kv_bytes_per_token()) \
            if c.kind == "generate" else setting.batch(c.kind, c.tokens)
        self.lm_eval_cells += 1
        self.subtasks += c.subtasks - 1  # a group's tasks after the first (cell_s prices one)
        self.write(model)
        self.requests += items * c.requests
        self.lm_eval_requests += items * c.requests
        if (model, task) not in self.built:  # later levels reuse the requests and their tokens
            self.built.add((model, task))
            self.built_tokens += items * c.requests * c.tokens
        if c.kind == "rolling":  # windows of max_length, no overlap (lm-eval's rolling windows)
            windows = items * max(1.0, c.tokens / max_length)
            self.jobs.append(Job("forward", model, level, windows / b, b, c.tokens * items / windows))
            self.prompt_tokens += items * c.tokens
        elif c.kind == "loglikelihood":
            self.jobs.append(Job("forward", model, level, items * c.forwards / b, b, c.tokens))
            self.prompt_tokens += items * c.forwards * c.tokens
        else:  # generate: a batch runs to its longest member
            steps = c.generated if b == 1 else c.batch_generated
            self.jobs.append(Job("forward", model, level, items / b, b, c.tokens))
            self.jobs.append(Job("decode", model, level, math.ceil(items / b) * steps, b))
            self.prompt_tokens += items * c.tokens
            self.generated_tokens += items * c.generated

    def write(self, model: str, cells: int = 1) -> None:
        self.written += cells
        self.written_gb += cells * _gb(model)

    def rank(self, model: str, criteria: int = 1) -> None:
        self.rankings += criteria
        self.ranked_gb += criteria * _gb(model)

    def add_calibration(self, model: str, samples: int) -> None:
        """Forwards over the calibration text (activation, hybrid, OWL; sensitivity windows)."""
        n = costs().calibration_window_tokens
        self.jobs.append(Job("forward", model, 0.0, samples, 1, n))
        self.prompt_tokens += samples * n


@dataclass(frozen=True)
class Context:
    """What the pipeline would run: its models per stage, levels, stage arguments, device."""

    models: tuple[str, ...]
    selection_models: tuple[str, ...]
    efficiency_models: tuple[str, ...]
    levels: tuple[float, ...] | None
    extra: dict[str, dict]            # per stage: the parsed extra arguments (see estimate.py)
    device: str                       # cpu | cuda
    stages: tuple[str, ...] = ()      # the run's stages (a cell an earlier stage computes is reused)


def _levels(ctx: Context, spec) -> list[float]:
    return [float(x) for x in (ctx.levels or spec.levels)]


def neuron_selection_work(ctx: Context, setting: Setting) -> StageWork:
    from repro.evaluate.plan import ModelPlan

    ns, extra = neuron_selection(), ctx.extra.get("neuron-selection", {})
    w = StageWork("neuron-selection")
    for name in ctx.selection_models:
        spec = models.get(name)
        tasks = suites.resolve(spec.selection_suite or ns.suite)
        crits = extra.get("criteria") or list(ns.criteria)
        plan = ModelPlan(spec, tasks, [float(x) for x in ns.levels], [(c, UNIFORM) for c in crits])
        cells = plan.cells()
        w.cells += len(cells)
        w.loads.append(name)
        for c in cells:
            w.add_lm_eval(name, c.level, c.task, setting, ctx.device, spec.max_length, extra.get("limit"))
        for _ in set(crits) & set(CALIBRATED):
            w.add_calibration(name, extra.get("calibration_samples", 32))
        w.rank(name, len(set(crits) | {"maw"}))
    return w


def evaluate_plan(ctx: Context, spec):
    from repro.evaluate.plan import ModelPlan

    return ModelPlan(spec, suites.resolve(spec.suite), _levels(ctx, spec), [("maw", UNIFORM)])


def evaluate_work(ctx: Context, setting: Setting) -> StageWork:
    extra = ctx.extra.get("evaluate", {})
    w = StageWork("evaluate")
    for name in ctx.models:
        spec = models.get(name)
        cells = evaluate_plan(ctx, spec).cells()
        w.cells += len(cells)
        w.loads.append(name)
        w.rank(name)
        for c in cells:
            w.add_lm_eval(name, c.level, c.task, setting, ctx.device, spec.max_length, extra.get("limit"))
    return w


def sensitivity_work(ctx: Context, setting: Setting) -> StageWork:
    """Per (criterion, level, layer) the calibration windows and the task, only the layers from
    the cut one up recomputed (repro/extensions/replay.py: about half of the forwards)."""
    ext, extra = extensions().sensitivity, ctx.extra.get("sensitivity", {})
    w = StageWork("sensitivity")
    for name in ctx.models:
        spec = models.get(name)
        task = (extra.get("tasks") or [ext.task_by_suite.get(spec.suite or "")])[0]
        levels = extra.get("levels") or list(ext.levels)
        groups = 1 + len(ext.criteria) * len(levels) * spec.num_layers
        w.cells += 2 * spec.num_layers * (1 + len(ext.criteria) * len(levels))
        w.loads.append(name)
        w.rank(name, len(ext.criteria))
        share = (spec.num_layers + 1) / (2 * spec.num_layers)  # replayed prefix
        part = StageWork("part")
        part.add_lm_eval(name, 0.0, task, setting, ctx.device, spec.max_length, extra.get("limit"))
        part.add_calibration(name, extra.get("perplexity_windows", ext.calibration_samples))
        for job in part.jobs:
            w.jobs.append(Job(job.kind, name, 0.0, job.count * (1 + (groups - 1) * share),
                              job.batch, job.tokens))
        w.lm_eval_cells += groups
        w.subtasks += part.subtasks * groups
        w.built_tokens += part.built_tokens  # built once, reused by every group (level_free.py)
        w.write(name, groups)  # the calibration cells beside them are a few bytes
        w.requests += part.requests * groups
        w.lm_eval_requests += part.requests * groups
        w.prompt_tokens += part.prompt_tokens * groups
    return w


def extensions_work(ctx: Context, setting: Setting) -> StageWork:
    from repro.evaluate.plan import ModelPlan

    ext, extra = extensions(), ctx.extra.get("extensions", {})
    w = StageWork("extensions")
    for name in ctx.models:
        spec = models.get(name)
        task = (extra.get("tasks") or [ext.sensitivity.task_by_suite.get(spec.suite or "")])[0]
        levels = [0.0, *(extra.get("levels") or ext.report.levels)]
        plan = ModelPlan(spec, suites.resolve(spec.suite, [task]), spec.check_levels(levels),
                         [(r.criterion, r.alloc) for r in ext.report.rows])
        cells = plan.cells()
        if "evaluate" in ctx.stages:  # the maw cells at evaluate's levels are evaluate's own
            cells = [c for c in cells if c not in set(evaluate_plan(ctx, spec).cells())]
        w.cells += len(cells)
        w.loads.append(name)
        for c in cells:
            w.add_lm_eval(name, c.level, c.task, setting, ctx.device, spec.max_length, extra.get("limit"))
        reading = {r.criterion for r in ext.report.rows if r.criterion in CALIBRATED or r.tag == "owl"}
        for _ in reading:
            w.add_calibration(name, extra.get("calibration_samples", 32))
        w.rank(name, len({c.criterion for c in cells}) + len({c.variant for c in cells} - {""}))
    return w


def efficiency_work(ctx: Context, setting: Setting, cfg: EfficiencyConfig | None = None) -> StageWork:
    """Corrected workloads as adaptive requests (+ energy blocks on a metered GPU); paper
    workloads as seeds x calls of prefill + new-token decode steps (an upper bound: generation
    stops at EOS); one idle calibration per session (drift checks are priced in estimate.py)."""
    from repro.efficiency.cells import planned
    from repro.efficiency.workloads import workloads

    extra = ctx.extra.get("efficiency", {})
    cfg = cfg or efficiency_config(profile=extra.get("profile"))
    metered = ctx.device == "cuda"
    w = StageWork("efficiency")
    for name in ctx.efficiency_models:
        spec = models.get(name)
        w.loads.append(name)
        w.rank(name)
        wls = [w for w in workloads(cfg, tuple(extra.get("protocols") or PROTOCOLS))
               if not extra.get("workloads") or w.name in extra["workloads"]]
        cells = planned(cfg, spec.intermediate_size, _levels(ctx, spec), widths=extra.get("widths"),
                        wls=wls)
        # not `written` (the kit's per-cell work: lm-eval samples gzipped and hashed): an
        # efficiency cell's record is a small JSON, written within the timed cell
        w.cells += len(cells)
        for level, _, wl in cells:
            if protocol_of(wl.kind) == "corrected":
                w.jobs.append(Job("request", name, level, 1, wl.batch_size, wl.prompt_tokens,
                                  wl.new_tokens, cfg.corrected.warmups, metered))
                w.requests += 1
                continue
            p = cfg.paper.workloads[wl.source]
            calls = math.ceil(p.num_prompts / wl.batch_size) * len(cfg.paper.seeds)
            length = sum(p.synthetic_prompt_tokens) / 2
            steps = (rehearsal_config().new_tokens(wl.new_tokens, wl.batch_size)
                     if rehearsal.active() else wl.new_tokens)  # real models: the cap, an upper bound
            w.jobs.append(Job("forward", name, level, calls, wl.batch_size, length))
            w.jobs.append(Job("decode", name, level, calls * steps, wl.batch_size))
            w.requests += calls * wl.batch_size
            w.prompt_tokens += calls * wl.batch_size * length
            w.generated_tokens += calls * wl.batch_size * steps
    if metered and w.cells:
        w.sleep_s += cfg.idle.settle_seconds + cfg.idle.calibration_seconds
    return w


WORK = {"neuron-selection": neuron_selection_work, "evaluate": evaluate_work,
        "efficiency": efficiency_work, "sensitivity": sensitivity_work,
        "extensions": extensions_work}
