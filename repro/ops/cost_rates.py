"""How fast a device runs a model: the rates the estimate prices work with (no torch here).

    rates = table_rates("h100")                  # a GPU this host cannot see: costs.yaml (estimate)
    rates = Rates.from_record(json)              # measured: selftest.json `rates`, or the probe
    rates.forward_s(shape, level, batch=1, tokens=512); rates.decode_s(shape, level, batch=8)

Measured rates are straight lines fitted per model shape on the device, at the run's dtype and
threads: a forward of B sequences of T tokens takes a + b * B * T, a decode step at batch B takes
c + d * B; a pruned level scales the per-token parts by its parameter count. Table rates are a
roofline: launches (layers x launch_ms_per_layer) plus the larger of compute (2 x params x
tokens at mfu x peak) and reading the weights once (bytes / bandwidth).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from repro.config.costs import Device, costs


@dataclass(frozen=True)
class Line:
    """Seconds = a + b * x (b at level 0; scaled by the level's parameter share)."""

    a: float
    b: float

    @staticmethod
    def through(x1: float, t1: float, x2: float, t2: float) -> Line:
        b = max((t2 - t1) / (x2 - x1), 0.0)
        return Line(max(t1 - b * x1, 0.0), b)


@dataclass(frozen=True)
class ModelRate:
    forward: Line      # x = batch x tokens
    decode: Line       # x = batch
    params: float      # at level 0, where the lines were measured


@dataclass
class Rates:
    source: str                    # where the figures come from (said beside every estimate)
    device: str                    # cpu | cuda
    device_name: str
    stage_start_s: float           # a stage process: python, torch, transformers, lm-eval's index
    cell_s: float                  # lm-eval's host work per cell ...
    request_ms: float              # ... and per request
    load_s_per_gb: float
    host_factor: float = 1.0       # this host's CPU speed relative to the costs.yaml reference
    build_us_per_token: float = 0.0  # lm-eval building a task's requests (tokenising), per token
    threads: int | None = None     # torch CPU threads the figures were measured with
    contention: float = 1.0        # wall / CPU seconds of a one-thread process now (other jobs)
    estimate: bool = False         # True for a table row: not measured on this host
    models: dict[str, ModelRate] = field(default_factory=dict)
    table: Device | None = None

    def forward_s(self, shape, level: float, batch: int, tokens: float) -> float:
        scale = shape.params(level) / shape.params(0.0)
        if shape.name in self.models:
            line = self.models[shape.name].forward
            return line.a + line.b * batch * tokens * scale
        d = self._device()
        compute = 2 * shape.params(level) * batch * tokens / (d.tflops * 1e12 * d.mfu)
        return shape.layers * d.launch_ms_per_layer / 1e3 + max(compute, self._read(shape, level))

    def decode_s(self, shape, level: float, batch: int) -> float:
        scale = shape.params(level) / shape.params(0.0)
        if shape.name in self.models:
            line = self.models[shape.name].decode
            return line.a + line.b * batch * scale
        d = self._device()
        compute = 2 * shape.params(level) * batch / (d.tflops * 1e12 * d.mfu)
        return shape.layers * d.launch_ms_per_layer / 1e3 + max(compute, self._read(shape, level))

    def knows(self, name: str) -> bool:
        return name in self.models or self.table is not None

    def _device(self) -> Device:
        if self.table is None:
            raise KeyError("no measured rate for this model and no GPU table row")
        return self.table

    def _read(self, shape, level: float) -> float:
        return shape.weight_bytes(level) / (self._device().memory_gb_s * 1e9)

    def record(self) -> dict:
        out = asdict(self)
        out["table"] = None if self.table is None else asdict(self.table)
        return out

    @staticmethod
    def from_record(rec: dict) -> Rates:
        models = {k: ModelRate(Line(**v["forward"]), Line(**v["decode"]), v["params"])
                  for k, v in rec.get("models", {}).items()}
        fields = {k: rec[k] for k in ("source", "device", "device_name", "stage_start_s", "cell_s",
                                      "request_ms", "load_s_per_gb", "host_factor", "threads",
                                      "contention", "estimate")}
        build = rec.get("build_us_per_token",  # a record of an older kit: the reference, scaled
                        costs().host.build_us_per_token_ref * rec.get("host_factor", 1.0))
        return Rates(**fields, build_us_per_token=build, models=models)


def table_rates(gpu: str) -> Rates:
    """Rates of a GPU from costs.yaml's table (an estimate), with its host constants."""
    c = costs()
    found = c.device_for(gpu)
    if found is None:
        from repro.core.errors import ReproError

        raise ReproError(f"--gpu {gpu}: not in repro/config/costs.yaml's table (known: "
                         f"{', '.join(c.devices)}); run the self-test on that GPU instead")
    key, dev = found
    h = c.host
    return Rates(source=f"table row '{key}' (an estimate: {dev.source})", device="cuda",
                 device_name=key, stage_start_s=h.stage_start_s, cell_s=h.cell_s,
                 request_ms=h.request_ms, load_s_per_gb=h.load_s_per_gb,
                 build_us_per_token=h.build_us_per_token, estimate=True, table=dev)
