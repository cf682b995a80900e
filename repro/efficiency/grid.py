"""The efficiency grid: which cells to measure for a model (levels x widths x workloads), and
measuring them as a grid stage (repro/grid/executor.py): load the model once, rank once per
criterion, prune per (level, alignment), run each workload and write its cell.

Cells: results/efficiency/<model>/<criterion>[-<variant>]/level-<p>/<workload>.json; the
variant (repro/core/variant.py) says what differs from a GPU run of the real weights,
unaligned, default profile, e.g. `align64-cpu-quick`. A cell is up to date when its record
shows the same tie-break, dtype, prompt source and workload settings (efficiency.yaml's, under
the profile) as this run's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from repro.config import models
from repro.config.efficiency import EfficiencyConfig
from repro.core.canonical import sha256_json
from repro.core.errors import ReproError
from repro.core.options import is_cuda
from repro.efficiency.bench import Bench
from repro.efficiency.prompts import dataset_prompts
from repro.efficiency.workloads import Workload, variant_name
from repro.grid.executor import GridStage, Group, Job, Measured
from repro.prune.widths import Target
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
        return f"random-init:{sha256_json(cfg.shapes[spec.name], compact=False)[:16]}:seed{seed}"
    return f"random-init:{spec.identity}:seed{seed}"


def resolve_prompt_source(choice: str, cfg: EfficiencyConfig, has_tokenizer: bool) -> str:
    """'datasets' when every paper dataset loads (and a tokenizer exists), else 'synthetic'."""
    if choice == "synthetic":
        return "synthetic"
    problem = None
    if not has_tokenizer:
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


def settings(cfg: EfficiencyConfig, wl: Workload, *, tie_break: str, dtype: str, prompt_source: str) -> dict:
    """What a cell's numbers depend on beyond its key, as `recorded` reads it from a record."""
    config = {k: v for k, v in cfg.record(paper=wl.kind == "paper").items() if k not in ("path", "sha256")}
    return {"tie_break": tie_break, "dtype": dtype, "config": config,
            "prompt_source": prompt_source if wl.kind == "paper" else "synthetic"}


@dataclass
class Loaded:
    spec: Any
    model: Any
    bench: Bench
    context: dict


class EfficiencyStage(GridStage):
    """`specs` by name; `planned`: every cell's workload and alignment; `meter`: opened once."""

    name = EFFICIENCY_STAGE
    background_writes = False  # a cell written in the background would run beside the next's timing

    def __init__(self, specs: dict, planned: dict[Cell, Planned], cfg: EfficiencyConfig, *,
                 device: str, dtype: str | None, tie_break: str, random_weights: bool,
                 prompt_source: str, open_meter):
        self.specs, self.planned, self.cfg, self.device = specs, planned, cfg, device
        self.dtype, self.tie_break, self.random_weights = dtype, tie_break, random_weights
        self.prompt_source, self.open_meter, self.meter = prompt_source, open_meter, None

    def dtype_of(self, spec) -> str:
        return self.dtype or spec.dtype

    def jobs(self) -> list[Job]:
        out = []
        for c, p in self.planned.items():
            spec = self.specs[c.model]
            out.append(Job(c, settings(self.cfg, p.workload, tie_break=self.tie_break,
                                       dtype=self.dtype_of(spec), prompt_source=self.prompt_source),
                           identity(spec, self.cfg, self.random_weights)))
        return out

    def recorded(self, record: dict) -> dict:
        prov, payload = record.get("provenance") or {}, record.get("payload") or {}
        config = {k: v for k, v in (prov.get("config") or {}).items() if k not in ("path", "sha256")}
        return {"tie_break": (prov.get("prune") or {}).get("tie_break"), "dtype": payload.get("dtype"),
                "config": config, "prompt_source": prov.get("prompt_source")}

    def prepare(self) -> None:
        self.meter = self.open_meter(self.device)
        if is_cuda(self.device) and not self.meter.available:
            log.warning("GPU energy not measured: %s", self.meter.reason)

    def load(self, model: str) -> Loaded:
        from repro.efficiency.timing import Timer

        spec = self.specs[model]
        base, tok, source = load_base(spec, dtype=self.dtype_of(spec), device=self.device,
                                      random_weights=self.random_weights, cfg=self.cfg)
        bench = Bench(model=None, tokenizer=tok, device=self.device, timer=Timer(self.device),
                      meter=self.meter, cfg=self.cfg, prompt_source=self.prompt_source,
                      model_name=spec.name)
        context = {"spec": spec, "identity": identity(spec, self.cfg, self.random_weights),
                   "source": source, "gpu": self.meter.device_record(),
                   "dtype": self.dtype_of(spec), "prompt_source": self.prompt_source}
        return Loaded(spec, base, bench, context)

    def rank(self, loaded: Loaded, criterion: str):
        from repro.prune.ranking import rank

        return rank(loaded.model, criterion)

    def group(self, cell: Cell) -> Group:
        return Group(cell.level, cell.criterion, cell.dims.align or 0)

    def prune(self, loaded: Loaded, ranking, group: Group, cells: list[Cell]):
        from repro.prune.apply import prune

        level, align = group.level, group.part or None
        pruned, info = prune(loaded.model, ranking, Target(level=level, align=align), self.tie_break)
        if align and info.kept_width == Target(level=level).width(info.original_width, info.hidden_size):
            log.info("level %g: align%d gives the unaligned width %d; not re-measured",
                     level, align, info.kept_width)
            return None
        loaded.bench.model = pruned.eval()
        return info

    def measure(self, loaded: Loaded, info, cells: list[Cell]) -> Iterator[Measured]:
        import torch

        for c in cells:
            t0 = time.monotonic()
            payload, prov = measure_cell(loaded.bench, self.planned[c].workload, info,
                                         self.random_weights, self.cfg, loaded.context)
            yield Measured(c, payload, prov, None, time.monotonic() - t0)
        loaded.bench.model = None
        if is_cuda(self.device):
            torch.cuda.empty_cache()


def measure_cell(bench: Bench, wl: Workload, info, random_weights: bool, cfg: EfficiencyConfig,
                 ctx: dict) -> tuple[dict, dict]:
    """Run one workload on the pruned model in `bench`: the cell's payload and provenance."""
    from repro.core.provenance import provenance
    from repro.efficiency.corrected import run_generation_workload
    from repro.efficiency.paper_protocol import run_paper_workload
    from repro.runtime.device import host_info

    payload = (run_paper_workload(bench, wl) if wl.kind == "paper"
               else run_generation_workload(bench, wl))
    dev_type = "cuda" if is_cuda(bench.device) else "cpu"
    payload.update(
        workload=asdict(wl), device=dev_type, dtype=ctx["dtype"],
        model_info={"kept_width": info.kept_width, "expansion_ratio": info.expansion_ratio,
                    "params": info.params_after, "align": info.align,
                    "original_width": info.original_width},
        labels={"timings_on": dev_type, "random_weights": random_weights, "profile": cfg.profile})
    prov = provenance(host_info(bench.device), stage=EFFICIENCY_STAGE,
                      model={**ctx["spec"].record(), "identity": ctx["identity"]}, source=ctx["source"],
                      prune=info.to_dict(), gpu=ctx["gpu"], config=cfg.record(paper=wl.kind == "paper"),
                      prompt_source=ctx["prompt_source"] if wl.kind == "paper" else "synthetic")
    return payload, prov

