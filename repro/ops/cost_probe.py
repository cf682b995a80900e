"""Measure this host's rates in seconds (torch), for the run-time estimate when no selftest.json
says them: random weights of each model's exact shape (efficiency.yaml `shapes`) time a few
forwards and decode steps at the run's dtype and threads; one child process times starting a
stage (python, torch, transformers, lm-eval's task index) and lm-eval's host work per cell (a
toy model on the local multiple-choice task).

    rates = measure(["smollm2-135m-instruct"], device="cpu", threads=1)     # a cost_rates.Rates
    python -m repro.ops.cost_probe      # the child: prints its figures as JSON
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from repro.config.costs import costs
from repro.core.options import is_cuda
from repro.ops.cost_rates import Line, ModelRate, Rates
from repro.ops.cost_work import shape_of

FULL_MODEL_PARAMS = 4e8  # above this, time 2 layers and the rest of the model, and extrapolate
CLOCK = {"wall": time.perf_counter, "cpu": time.process_time}


def clock_for(device: str, threads: int | None) -> str:
    """A one-thread CPU run is timed in CPU seconds, which other jobs on a shared machine do not
    stretch (on an idle host they are its wall seconds); everything else in wall seconds."""
    return "cpu" if device == "cpu" and threads == 1 else "wall"


def _best(fn, reps: int = 5, clock: str = "wall") -> float:
    """The fastest of `reps` timed calls after one warm-up."""
    now = CLOCK[clock]
    fn()
    times = []
    for _ in range(reps):
        t0 = now()
        fn()
        times.append(now() - t0)
    return min(times)


def _model(shape_name: str, dtype: str, device: str, layers: int | None):
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from repro.config.efficiency import load_config
    from repro.runtime.hf import resolve_dtype

    raw = dict(load_config().shapes[shape_name])
    if layers is not None:
        raw["num_hidden_layers"] = layers
    config = AutoConfig.for_model(raw.pop("model_type"), **raw)
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=resolve_dtype(dtype))
    return model.eval()


def _times(model, device: str, vocab: int, clock: str) -> dict[str, float]:
    """Forward of 1 x 16 and 1 x 512 tokens; a decode step at batch 1 and 8 after 64 tokens."""
    import torch

    from repro.efficiency.generation import cache_name

    cache = cache_name(model)  # past_key_values in transformers 4.x, cache in 5.x

    def sync():
        if is_cuda(device):
            torch.cuda.synchronize()

    g = torch.Generator().manual_seed(0)
    out = {}
    with torch.inference_mode():
        for n in (16, 512):
            ids = torch.randint(3, vocab, (1, n), generator=g).to(device)
            out[f"fwd_{n}"] = _best(lambda ids=ids: (model(input_ids=ids), sync()), clock=clock)
        for b in (1, 8):
            ids = torch.randint(3, vocab, (b, 64), generator=g).to(device)
            past = getattr(model(input_ids=ids, use_cache=True), cache)
            nxt = ids[:, -1:]

            def step(past=past, nxt=nxt):
                model(input_ids=nxt, **{cache: past}, use_cache=True)
                past.crop(-1)  # drop the token the step added: the cache stays at 64 (4.x and 5.x)
                sync()

            out[f"dec_{b}"] = _best(step, clock=clock)
    return out


def model_rate(name: str, dtype: str, device: str, clock: str = "wall") -> ModelRate:
    shape = shape_of(name, dtype)
    if shape.params() <= FULL_MODEL_PARAMS:
        t = _times(_model(name, dtype, device, None), device, shape.vocab, clock)
    else:  # 2 layers and none: the layers' share, times the model's layer count
        t2 = _times(_model(name, dtype, device, 2), device, shape.vocab, clock)
        t0 = _times(_model(name, dtype, device, 0), device, shape.vocab, clock)
        t = {k: t0[k] + (t2[k] - t0[k]) * shape.layers / 2 for k in t2}
    return ModelRate(forward=Line.through(16, t["fwd_16"], 512, t["fwd_512"]),
                     decode=Line.through(1, t["dec_1"], 8, t["dec_8"]), params=shape.params())


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
    rates = Rates(source=f"measured now on this host ({name}, {threads or 'default'} thread(s), "
                         f"{clock} seconds)",
                  device="cpu" if device == "cpu" else "cuda", device_name=name,
                  stage_start_s=h["stage_start_s"], cell_s=h["cell_s"], request_ms=h["request_ms"],
                  load_s_per_gb=costs().host.load_s_per_gb * h["host_factor"],
                  host_factor=h["host_factor"], threads=threads,
                  contention=h["contention"] if clock == "cpu" else 1.0)
    for n in names:
        rates.models[n] = model_rate(n, dtypes[n], device, clock)
    return rates


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
    small, large = min(cell(2) for _ in range(2)), min(cell(12) for _ in range(2))
    per_request = max(large - small, 0.0) / (10 * 4)  # 4 choices a question
    return {"stage_start_s": started, "cell_s": max(small - 8 * per_request, 0.0),
            "request_ms": per_request * 1e3, "host_factor": started / costs().host.reference_start_s,
            "contention": max(wall / cpu, 1.0)}


if __name__ == "__main__":
    print(json.dumps(_child(float(sys.argv[1]), sys.argv[2])))
