"""Measure this host's rates in seconds (torch), for the run-time estimate when no selftest.json
says them. Each distinct model shape (efficiency.yaml `shapes`; llama-3.2-1b-instruct is
llama-3.2-1b's) is probed once with random weights at the run's dtype and threads; one child
process times starting a stage (python, torch, transformers, lm-eval's task index) and lm-eval's
host work per cell (a toy model on the local multiple-choice task).

    rates = measure(["smollm2-135m-instruct"], device="cpu", threads=1, dtypes=...)  # a Rates
    python -m repro.ops.cost_probe      # the child: prints its figures as JSON

What is timed, and the law that scales it to the run's work (cost_rates: straight lines):
- forwards of 1 x T tokens at FORWARD_TOKENS (on a CPU 16 and 256: the second as long as the
  rehearsal's and smoke's contexts, because a small model's attention, quadratic, is a large
  share of its forward there: the rehearsal's stand-in takes 12 ms at 445 tokens, where a line
  through 16 and 64 said 3.4; longer on a GPU, past its launch-bound region), decode steps at
  batch DECODE_BATCHES after DECODE_CONTEXT tokens. A forward of B x T tokens is priced on the
  line through the two: the matmuls' time, linear in B x T, plus a fixed cost; attention's
  quadratic term, left out, is under 4% of a Llama-3.2 layer's FLOPs at 512 tokens and ~13% at
  2,048.
- a model above FULL_MODEL_PARAMS is built with ONE decoder layer at its real width: the whole
  forward (embeddings, that layer, norm and lm_head) and the layer alone (hooks) are timed in
  the same calls, and the other layers are the layer's time each (layers are identical).
- each figure: one warm-up, then the fastest of up to REPS calls within FIGURE_BUDGET_S; past
  PROBE_CAP_S of probing, every remaining figure gets one call after its warm-up.
Estimates from a probe, said beside every figure (estimate.render).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import replace

from repro.config.costs import costs
from repro.core.options import is_cuda
from repro.ops.cost_rates import Line, ModelRate, Rates
from repro.ops.cost_work import Shape, hf_shape, shape_of

FULL_MODEL_PARAMS = 4e8  # above this, time one decoder layer and extrapolate by the layer count
FORWARD_TOKENS = {"cpu": (16, 256), "cuda": (128, 2048)}
DECODE_BATCHES = (1, 8)
DECODE_CONTEXT = 32
REPS = 3
FIGURE_BUDGET_S = 0.5
PROBE_CAP_S = 20.0
CLOCK = {"wall": time.perf_counter, "cpu": time.process_time}


def clock_for(device: str, threads: int | None) -> str:
    """A one-thread CPU run is timed in CPU seconds, which other jobs on a shared machine do not
    stretch (on an idle host they are its wall seconds); everything else in wall seconds."""
    return "cpu" if device == "cpu" and threads == 1 else "wall"


def shape_key(name: str, dtype: str) -> Shape:
    """What a probe measures: the shape without its name (1B-Instruct is 1B's shape)."""
    return replace(shape_of(name, dtype), name="")


class Timer:
    """Best-of timing under a per-figure budget and a cap on the whole probe."""

    def __init__(self, clock: str, cap_s: float = PROBE_CAP_S):
        self.now = CLOCK[clock]
        self.deadline = time.perf_counter() + cap_s
        self.capped = False

    def best(self, fn) -> tuple[float, ...]:
        """The fastest of up to REPS timed calls after one warm-up, element-wise over what `fn`
        returns besides its own duration (extra durations it measured inside)."""
        fn()  # first calls pay for kernel selection and allocations
        reps, runs = REPS, []
        if time.perf_counter() > self.deadline:
            self.capped, reps = True, 1
        t_end = time.perf_counter() + FIGURE_BUDGET_S
        while len(runs) < reps and (not runs or time.perf_counter() < t_end):
            t0 = self.now()
            extra = fn()
            runs.append((self.now() - t0, *extra))
        return tuple(min(col) for col in zip(*runs, strict=True))


def _model(shape_name: str, dtype: str, device: str, layers: int | None):
    """Random weights of the shape, built without transformers' initialisers (a normal_ over a
    128k-token embedding in bf16 takes ~8 s on a CPU core): every parameter is filled with a
    tiled block of N(0, 0.02) values, which times as any trained weights do."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from repro.runtime.hf import resolve_dtype

    try:  # transformers 5.x
        from transformers.initialization import no_init_weights
    except ImportError:  # 4.x
        from transformers.modeling_utils import no_init_weights

    raw = dict(hf_shape(shape_name))
    if layers is not None:
        raw["num_hidden_layers"] = layers
    config = AutoConfig.for_model(raw.pop("model_type"), **raw)
    with torch.device(device), no_init_weights():
        model = AutoModelForCausalLM.from_config(config, dtype=resolve_dtype(dtype))
    g = torch.Generator().manual_seed(0)
    block = (torch.randn(1 << 20, generator=g) * 0.02).to(device, resolve_dtype(dtype))
    with torch.no_grad():
        for p in model.parameters():
            flat = p.view(-1)
            for i in range(0, flat.numel(), block.numel()):
                part = flat[i:i + block.numel()]
                part.copy_(block[:part.numel()])
    return model.eval()


def _times(model, device: str, vocab: int, timer: Timer) -> dict[str, tuple[float, float]]:
    """Per figure (forwards of FORWARD_TOKENS, decode steps at DECODE_BATCHES): the whole call's
    seconds and those of decoder layer 0 within it."""
    import torch

    from repro.efficiency.generation import cache_name

    cache = cache_name(model)  # past_key_values in transformers 4.x, cache in 5.x
    layer = model.model.layers[0]
    inside = [0.0]

    def sync():
        if is_cuda(device):
            torch.cuda.synchronize()

    def enter(*_):
        sync()
        inside.append(timer.now())

    def leave(*_):
        sync()
        inside[0] += timer.now() - inside.pop()

    hooks = [layer.register_forward_pre_hook(enter), layer.register_forward_hook(leave)]

    def call(fn):
        def timed():
            inside[0] = 0.0
            fn()
            sync()
            return (inside[0],)
        return timed

    g = torch.Generator().manual_seed(0)
    out = {}
    with torch.inference_mode():
        for n in _tokens(device):
            ids = torch.randint(3, vocab, (1, n), generator=g).to(device)
            out[f"fwd_{n}"] = timer.best(call(lambda ids=ids: model(input_ids=ids)))
        for b in DECODE_BATCHES:
            ids = torch.randint(3, vocab, (b, DECODE_CONTEXT), generator=g).to(device)
            past = getattr(model(input_ids=ids, use_cache=True), cache)
            nxt = ids[:, -1:]

            def step(past=past, nxt=nxt):
                model(input_ids=nxt, **{cache: past}, use_cache=True)
                past.crop(-1)  # drop the token the step added: the cache stays put (4.x and 5.x)

            out[f"dec_{b}"] = timer.best(call(step))
    for h in hooks:
        h.remove()
    return out


def _tokens(device: str) -> tuple[int, int]:
    return FORWARD_TOKENS["cuda" if is_cuda(device) else "cpu"]


def model_rate(name: str, dtype: str, device: str, clock: str = "wall",
               timer: Timer | None = None) -> ModelRate:
    """Rates of `name`'s shape: the whole model when small, else one layer extrapolated."""
    shape, timer = shape_of(name, dtype), timer or Timer(clock)
    layers = None if shape.params() <= FULL_MODEL_PARAMS else 1
    t = _times(_model(name, dtype, device, layers), device, shape.vocab, timer)
    if layers is None:
        s = {k: whole for k, (whole, _) in t.items()}
    else:  # the model with one layer, plus the layer's time for each of the others
        s = {k: whole + (shape.layers - 1) * one for k, (whole, one) in t.items()}
    (n1, n2), (b1, b2) = _tokens(device), DECODE_BATCHES
    return ModelRate(forward=Line.through(n1, s[f"fwd_{n1}"], n2, s[f"fwd_{n2}"]),
                     decode=Line.through(b1, s[f"dec_{b1}"], b2, s[f"dec_{b2}"]),
                     params=shape.params())


def host_figures(threads: int | None, clock: str) -> dict:
    """Run this module as a child process (the stage's own environment) and read its figures."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false")
    if threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "repro.ops.cost_probe", str(t0), clock], env=env,
                       capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def measure(names: list[str], *, device: str, threads: int | None, dtypes: dict[str, str]) -> Rates:
    import torch

    if threads:
        torch.set_num_threads(threads)
    clock = clock_for(device, threads)
    h = host_figures(threads, clock)
    name = "CPU" if device == "cpu" else torch.cuda.get_device_name(device)
    timer, t0 = Timer(clock), time.perf_counter()
    models, probed = {}, {}
    for n in names:  # one probe per shape: a model of another's shape is priced by its figures
        key = shape_key(n, dtypes[n])
        if key not in probed:
            probed[key] = model_rate(n, dtypes[n], device, clock, timer)
        models[n] = probed[key]
    cut = " (cut short at its time cap: some figures from one call)" if timer.capped else ""
    return Rates(source=f"an estimate from a {time.perf_counter() - t0:.0f} s probe of this host "
                        f"now{cut} ({name}, {threads or 'default'} thread(s), {clock} seconds; "
                        f"{len(probed)} model shape(s), random weights)",
                 device="cpu" if device == "cpu" else "cuda", device_name=name,
                 stage_start_s=h["stage_start_s"], cell_s=h["cell_s"], request_ms=h["request_ms"],
                 load_s_per_gb=costs().host.load_s_per_gb * h["host_factor"],
                 host_factor=h["host_factor"], threads=threads,
                 build_us_per_token=costs().host.build_us_per_token_ref * h["host_factor"],
                 contention=h["contention"] if clock == "cpu" else 1.0, models=models)


def _child(t_spawn: float, clock: str) -> dict:
    """In a fresh process: the cost of starting a stage, then lm-eval's work per cell (CPU
    seconds of this process, or wall seconds since the parent spawned it)."""
    import lm_eval  # noqa: F401 - the import is what is timed
    import torch  # noqa: F401
    import transformers  # noqa: F401
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    from repro.evaluate.tasks.build import build
    from repro.testing.toy import toy_model, toy_tokenizer

    tm = TaskManager(include_path=str(build()))
    wall, cpu = time.perf_counter() - t_spawn, time.process_time()
    started = cpu if clock == "cpu" else wall
    now = CLOCK[clock]
    lm = HFLM(pretrained=toy_model(), tokenizer=toy_tokenizer(), batch_size=1, max_length=256)

    def cell(limit: int) -> float:
        t0 = now()
        simple_evaluate(model=lm, tasks=["smoke_mc"], limit=limit, task_manager=tm,
                        bootstrap_iters=0, log_samples=True, verbosity="ERROR")
        return now() - t0

    cell(1)  # warm-up: first-call imports and caches
    small, large = min(cell(2) for _ in range(2)), cell(8)
    per_request = max(large - small, 0.0) / (6 * 4)  # 4 choices a question
    return {"stage_start_s": started, "cell_s": max(small - 8 * per_request, 0.0),
            "request_ms": per_request * 1e3, "host_factor": started / costs().host.reference_start_s,
            "contention": max(wall / cpu, 1.0)}


if __name__ == "__main__":
    print(json.dumps(_child(float(sys.argv[1]), sys.argv[2])))
