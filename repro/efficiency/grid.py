"""The efficiency grid: which cells to measure for a model (levels x widths x workloads), and
measuring them: load the model once, rank once, prune per (level, alignment), write each cell.

Cells: results/efficiency/<model>/<criterion>[-<variant>]/level-<p>/<workload>.json; the
variant (workloads.variant_name) says what differs from a GPU run of the real weights,
unaligned, default profile, e.g. `align64-cpu-quick`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass
from typing import Any

from repro.config import models
from repro.config.efficiency import EfficiencyConfig
from repro.core.errors import ReproError
from repro.efficiency.bench import Bench
from repro.efficiency.prompts import dataset_prompts
from repro.efficiency.workloads import Workload, variant_name
from repro.prune.widths import Target
from repro.results import cells
from repro.results.cells import EFFICIENCY_STAGE, Cell
from repro.runtime.hf import load, load_config, resolve_dtype
from repro.runtime.weights import weights

log = logging.getLogger("repro.efficiency")


def load_base(spec, *, dtype: str, device: str, random_weights: bool, cfg: EfficiencyConfig,
              seed: int = 0):
    """(model, tokenizer or None, source record)."""
    import torch

    if random_weights:
        from transformers import AutoConfig, AutoModelForCausalLM

        if spec.name in cfg.shapes:
            shape = dict(cfg.shapes[spec.name])
            config = AutoConfig.for_model(shape.pop("model_type"), **shape)
        else:
            path, gguf, rev = weights(spec)
            config = load_config(path, revision=rev, gguf_file=gguf)
        torch.manual_seed(seed)
        with torch.device(device):
            model = AutoModelForCausalLM.from_config(config, dtype=resolve_dtype(dtype))
        model.eval()
        return model, None, {"model": spec.name, "random_weights": True, "init_seed": seed,
                             "shape_from": "efficiency.yaml" if spec.name in cfg.shapes else "config.json"}
    models.check_access(spec)
    path, gguf, rev = weights(spec)
    model, tok, source = load(path, revision=rev, gguf_file=gguf, dtype=dtype, device=device)
    return model, tok, dict(source, random_weights=False)


def identity(spec, cfg: EfficiencyConfig, random_weights: bool, seed: int = 0) -> str:
    """The model a cell measures: the spec's weights, or random ones of a recorded shape."""
    if not random_weights:
        return spec.identity
    if spec.name in cfg.shapes:
        shape = json.dumps(cfg.shapes[spec.name], sort_keys=True).encode()
        return f"random-init:{hashlib.sha256(shape).hexdigest()[:16]}:seed{seed}"
    return f"random-init:{spec.identity}:seed{seed}"


def resolve_prompt_source(choice: str, cfg: EfficiencyConfig, tokenizer) -> str:
    """'datasets' when every paper dataset loads (and a tokenizer exists), else 'synthetic'."""
    if choice == "synthetic":
        return "synthetic"
    problem = None
    if tokenizer is None:
        problem = "no tokenizer (random weights)"
    else:
        try:
            for w in cfg.paper.workloads.values():
                dataset_prompts(w, 0, num_prompts=1)
        except Exception as exc:  # noqa: BLE001 - offline, missing cache, gated: all mean 'cannot'
            problem = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    if problem is None:
        return "datasets"
    if choice == "datasets":
        raise ReproError(f"--prompt-source datasets: the paper's datasets cannot be loaded ({problem}); "
                         "connect to the Hub or fill the datasets cache, or use --prompt-source synthetic")
    log.warning("paper workloads use SYNTHETIC prompts of estimated lengths (%s); "
                "their cells are labelled 'synthetic'", problem)
    return "synthetic"


@dataclass(frozen=True)
class Planned:
    cell: Any
    workload: Workload
    align: int | None


def plan(spec_name: str, criterion: str, levels, widths, wls: list[Workload], *,
         variant_kw: dict, prompt_source: str, width: int | None = None,
         measures=lambda kind, width: True) -> list[Planned]:
    """The cells to measure. An aligned variant whose width equals the unaligned one (level 0,
    or e.g. 4096 = 50% of 8192) is left out when the original `width` is known."""
    out = []
    for level in levels:
        for w_name in widths:
            align = None if w_name == "unaligned" else int(w_name.removeprefix("align"))
            if align and level == 0:
                continue  # the unpruned width (e.g. 8192) is already aligned
            if align and width:
                if align > width:
                    log.info("align%d exceeds the MLP width %d; left out", align, width)
                    continue
                if Target(level=level, align=align).width(width, 1) == Target(level=level).width(width, 1):
                    continue
            for wl in (w for w in wls if measures(w.kind, w_name)):  # efficiency.yaml `widths`
                synthetic = wl.kind == "paper" and prompt_source == "synthetic"
                v = variant_name(align=align, synthetic=synthetic, **variant_kw)
                out.append(Planned(Cell(EFFICIENCY_STAGE, spec_name, criterion, float(level), wl.name, v), wl, align))
    return out


def profile_model(spec, args, cfg: EfficiencyConfig, *, device, criterion, widths, wls, meter,
                  timer, claims) -> int:
    """Every pending cell of one model and criterion: load once, rank once, prune per (level,
    alignment). Each cell is claimed first (repro.results.locks.Claims)."""
    import torch

    from repro.prune.apply import prune
    from repro.prune.ranking import rank

    dev_type = torch.device(device).type
    dtype = args.dtype or spec.dtype
    variant_kw = dict(device_type=dev_type, random_weights=args.random_weights,
                      dtype_token="" if dtype == spec.dtype else dtype, profile=cfg.profile,
                      tie_break=args.tie_break)
    model = tok = source = None
    prompt_source = "synthetic"  # what a dry run assumes for paper workloads
    if any(w.kind == "paper" for w in wls) and args.prompt_source != "synthetic" \
            and not args.random_weights and not args.dry_run:
        model, tok, source = load_base(spec, dtype=dtype, device=device, random_weights=False, cfg=cfg)
        prompt_source = resolve_prompt_source(args.prompt_source, cfg, tok)
    grid = plan(spec.name, criterion, args.levels or list(spec.levels), widths, wls,
                variant_kw=variant_kw, prompt_source=prompt_source, width=spec.intermediate_size,
                measures=cfg.measures)
    by_cell = {g.cell: g for g in grid}
    ident = identity(spec, cfg, args.random_weights)
    todo = cells.shard(stale(args.results, list(by_cell), args.tie_break, ident), args.shard)
    print(f"{spec.name}: {len(grid)} cells, {len(todo)} pending (device {device}, "
          f"variant e.g. '{todo[0].variant if todo else ''}')")
    if args.dry_run or not todo:
        for c in todo:
            print(f"  {c.id}")
        return 0
    todo = [c for c in todo if not claims.busy(c)]  # another runner's: not worth a load
    if not todo:
        return 0
    if model is None:
        model, tok, source = load_base(spec, dtype=dtype, device=device,
                                       random_weights=args.random_weights, cfg=cfg)
    bench = Bench(model=None, tokenizer=tok, device=device, timer=timer, meter=meter, cfg=cfg,
                  prompt_source=prompt_source, model_name=spec.name)
    ranking = rank(model, criterion)
    context = {"spec": spec, "identity": ident, "source": source, "gpu": meter.device_record(),
               "dtype": dtype, "prompt_source": prompt_source}
    progress, done = cells.Progress(len(todo)), 0
    groups: dict[tuple, list] = {}
    for c in todo:
        groups.setdefault((c.level, by_cell[c].align or 0), []).append(c)
    for (level, align), group in sorted(groups.items()):
        pruned, info = prune(model, ranking, Target(level=level, align=align or None), args.tie_break)
        if align and info.kept_width == Target(level=level).width(info.original_width, info.hidden_size):
            log.info("level %g: align%d gives the unaligned width %d; not re-measured",
                     level, align, info.kept_width)
            continue
        bench.model = pruned.eval()
        for c in group:
            if not claims.acquire(c):
                continue
            if not stale(args.results, [c], args.tie_break, ident):  # another runner finished it
                claims.release(c)
                continue
            t0 = time.monotonic()
            measure_cell(bench, c, by_cell[c].workload, info, args, cfg, context)
            claims.release(c)
            progress.step(c, time.monotonic() - t0)
            done += 1
        bench.model = None
        del pruned
        if dev_type == "cuda":
            torch.cuda.empty_cache()
    return done


def stale(root, grid: list, tie_break: str, identity: str | None = None) -> list:
    """Cells to (re)measure: missing or damaged ones, those of another model (`identity`), and
    those pruned with another tie-break (cells written before the paper's rule became the
    default carry `stable` in their record)."""
    out = []
    for c in grid:
        rec = cells.read(root, c, identity)
        rule = ((rec or {}).get("provenance") or {}).get("prune", {}).get("tie_break")
        if rec is None or rule != tie_break:
            if rec is not None:
                log.warning("%s was pruned with tie-break %s; it will be remeasured", c.id, rule)
            out.append(c)
    return out


def measure_cell(bench: Bench, cell, wl: Workload, info, args, cfg: EfficiencyConfig,
                 ctx: dict) -> None:
    """Run one workload on the pruned model in `bench` and write its cell with provenance."""
    from repro.core.provenance import provenance
    from repro.efficiency.corrected import run_generation_workload
    from repro.efficiency.paper_protocol import run_paper_workload
    from repro.runtime.device import host_info

    payload = (run_paper_workload(bench, wl) if wl.kind == "paper"
               else run_generation_workload(bench, wl))
    dev_type = "cuda" if str(bench.device).startswith("cuda") else "cpu"
    payload.update(
        workload=asdict(wl), device=dev_type, dtype=ctx["dtype"],
        model_info={"kept_width": info.kept_width, "expansion_ratio": info.expansion_ratio,
                    "params": info.params_after, "align": info.align,
                    "original_width": info.original_width},
        labels={"timings_on": dev_type, "random_weights": args.random_weights,
                "profile": cfg.profile})
    prov = provenance(host_info(bench.device), stage=EFFICIENCY_STAGE,
                      model={**ctx["spec"].record(), "identity": ctx["identity"]}, source=ctx["source"],
                      prune=info.to_dict(), gpu=ctx["gpu"], config=cfg.record(paper=wl.kind == "paper"),
                      prompt_source=ctx["prompt_source"] if wl.kind == "paper" else "synthetic")
    cells.write(args.results, cell, payload, prov)
