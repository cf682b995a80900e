"""GPU energy from NVML's total-energy counter, with idle power subtracted.

    meter = open_meter("cuda:0")          # never raises for a missing driver: see meter.reason
    base = IdleBaseline(meter, cfg.idle)  # once per device and session: meter.baseline
    idle = base.current()                 # calibrated on first use (30 s), then drift-checked
    reading = meter.region(lambda: timer.time(step))
    net_j = net_energy_j(reading, idle)   # raw - idle power x window; None if not measured

Units: NVML reports energy in millijoules since the driver loaded and power in milliwatts;
everything here is converted once, to joules and watts. (The paper stored CodeCarbon's kg CO2eq
as kWh; nothing in this module ever leaves a unit implicit.)

"Not measured" is None, never 0: on a machine without the NVIDIA driver `pynvml` raises
NVMLError_LibraryNotFound, on CPU runs there is no GPU to meter, and GPUs older than Volta have
no energy counter. Each case leaves `meter.available` False and says why in `meter.reason`.
The `nvml` object is injectable (tests pass a fake with the same functions as `pynvml`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

log = logging.getLogger("repro.energy")

MJ_PER_J = 1000.0   # NVML energy counter unit: millijoules
MW_PER_W = 1000.0   # NVML power unit: milliwatts
J_PER_KWH = 3.6e6


def mj_to_j(mj: float) -> float:
    return mj / MJ_PER_J


def mw_to_w(mw: float) -> float:
    return mw / MW_PER_W


def j_to_kwh(j: float | None) -> float | None:
    return None if j is None else j / J_PER_KWH


@dataclass(frozen=True)
class Reading:
    """One metered window: counter delta (raw_j) over `seconds` of wall time, and the
    power and clocks sampled at its end."""

    raw_j: float | None
    seconds: float
    power_w_end: float | None = None
    sm_clock_mhz: int | None = None
    mem_clock_mhz: int | None = None
    temperature_c: int | None = None

    @property
    def power_w_mean(self) -> float | None:
        return None if self.raw_j is None or self.seconds <= 0 else self.raw_j / self.seconds

    def to_dict(self) -> dict:
        return {**asdict(self), "power_w_mean": self.power_w_mean}


@dataclass(frozen=True)
class Idle:
    """Idle power of the GPU, measured over `seconds` with nothing running."""

    power_w: float | None
    seconds: float
    energy_j: float | None

    def to_dict(self) -> dict:
        return asdict(self)


def net_energy_j(reading: Reading, idle: Idle | None) -> float | None:
    """Energy attributable to the work: raw counter delta minus idle power x window length.

    None when either part was not measured. Not clipped at zero: a negative value means the
    work was below the idle noise, and hiding that would bias the mean.
    """
    if reading.raw_j is None or idle is None or idle.power_w is None:
        return None
    return reading.raw_j - idle.power_w * reading.seconds


def per_unit(joules: float | None, count: int | float) -> float | None:
    """J per token / per request; None if not measured or nothing was counted."""
    if joules is None or not count:
        return None
    return joules / count


class EnergyMeter:
    """Read one GPU's NVML energy counter; every reading is None when unavailable."""

    def __init__(self, nvml: Any = None, handle: Any = None, *, reason: str | None = None,
                 clock: Callable[[], float] = time.perf_counter,
                 sleep: Callable[[float], None] = time.sleep):
        self.nvml, self.handle, self.clock, self.sleep = nvml, handle, clock, sleep
        self.reason = reason
        self.baseline: IdleBaseline | None = None  # the session's idle power (bench.idle_baseline)
        if nvml is not None and handle is not None and reason is None:
            try:
                nvml.nvmlDeviceGetTotalEnergyConsumption(handle)
            except nvml.NVMLError as exc:  # pre-Volta GPUs, or a vGPU without the counter
                self.reason = f"NVML has no total-energy counter on this GPU ({exc})"
        elif reason is None:
            self.reason = "no NVML device"

    @property
    def available(self) -> bool:
        return self.reason is None

    # ---- raw reads (None when unavailable or when NVML refuses)

    def _call(self, name: str, *args):
        if self.nvml is None or self.handle is None:
            return None
        try:
            return getattr(self.nvml, name)(self.handle, *args)
        except (self.nvml.NVMLError, AttributeError):
            return None

    def energy_j(self) -> float | None:
        if not self.available:
            return None
        mj = self._call("nvmlDeviceGetTotalEnergyConsumption")
        return None if mj is None else mj_to_j(float(mj))

    def power_w(self) -> float | None:
        mw = self._call("nvmlDeviceGetPowerUsage")
        return None if mw is None else mw_to_w(float(mw))

    def snapshot(self) -> dict[str, Any]:
        """Power draw, clocks and temperature right now (None where NVML cannot say)."""
        n = self.nvml
        if n is None or self.handle is None:
            return {"power_w_end": None, "sm_clock_mhz": None, "mem_clock_mhz": None,
                    "temperature_c": None}
        return {
            "power_w_end": self.power_w(),
            "sm_clock_mhz": self._call("nvmlDeviceGetClockInfo", getattr(n, "NVML_CLOCK_SM", 1)),
            "mem_clock_mhz": self._call("nvmlDeviceGetClockInfo", getattr(n, "NVML_CLOCK_MEM", 2)),
            "temperature_c": self._call("nvmlDeviceGetTemperature",
                                        getattr(n, "NVML_TEMPERATURE_GPU", 0)),
        }

    def device_record(self) -> dict[str, Any]:
        """GPU name, driver, power limit and clocks, for the provenance of every cell."""
        rec: dict[str, Any] = {"energy_measured": self.available, "energy_not_measured_reason": self.reason,
                               "energy_source": "nvml.nvmlDeviceGetTotalEnergyConsumption"}
        n = self.nvml
        if n is None or self.handle is None:
            return rec

        def text(v):
            return v.decode() if isinstance(v, bytes) else v

        def sys_call(name):
            try:
                return text(getattr(n, name)())
            except (n.NVMLError, AttributeError):
                return None

        limit_mw = self._call("nvmlDeviceGetEnforcedPowerLimit")
        rec.update(
            gpu_name=text(self._call("nvmlDeviceGetName")),
            gpu_uuid=text(self._call("nvmlDeviceGetUUID")),
            driver_version=sys_call("nvmlSystemGetDriverVersion"),
            nvml_version=sys_call("nvmlSystemGetNVMLVersion"),
            power_limit_w=None if limit_mw is None else mw_to_w(float(limit_mw)),
            max_sm_clock_mhz=self._call("nvmlDeviceGetMaxClockInfo", getattr(n, "NVML_CLOCK_SM", 1)),
            max_mem_clock_mhz=self._call("nvmlDeviceGetMaxClockInfo", getattr(n, "NVML_CLOCK_MEM", 2)),
            **{f"{k}_at_start": v for k, v in self.snapshot().items()},
        )
        return rec

    # ---- measurements

    def idle(self, seconds: float) -> Idle:
        """Idle power over `seconds`: two counter reads around a sleep. Call it with the GPU
        drained (synchronised) and nothing else running on it."""
        if not self.available:
            return Idle(None, 0.0, None)
        e0, t0 = self.energy_j(), self.clock()
        self.sleep(seconds)
        e1, t1 = self.energy_j(), self.clock()
        dt = t1 - t0
        if e0 is None or e1 is None or dt <= 0:
            return Idle(None, dt, None)
        return Idle(power_w=(e1 - e0) / dt, seconds=dt, energy_j=e1 - e0)

    def region(self, run: Callable[[], Any]) -> tuple[Reading, Any]:
        """Read the counter around run() (which should synchronise the device itself, e.g. a
        timing.Timer.time call); return the reading and run's result."""
        e0, t0 = self.energy_j(), self.clock()
        out = run()
        t1, e1 = self.clock(), self.energy_j()
        raw = None if e0 is None or e1 is None else e1 - e0
        return Reading(raw_j=raw, seconds=t1 - t0, **self.snapshot()), out


class IdleBaseline:
    """Idle power of one GPU for a whole session (a stage process): calibrated once, as the
    paper did (30 s), then re-checked with a short window after every `recheck_every_s` of
    measuring; a check that moved by more than `drift_tolerance` (relative) is followed by a
    new calibration. `calibration` is the first one (the paper protocol subtracts it, as the
    paper did); `current()` is the latest (the corrected protocol's). `events` lists every
    calibration and check, and `slept_s` the seconds spent idle, for the cells' records."""

    def __init__(self, meter: EnergyMeter, cfg, *, drain: Callable[[], None] = lambda: None):
        self.meter, self.cfg, self.drain = meter, cfg, drain
        self.calibration: Idle | None = None
        self.latest: Idle | None = None
        self.checked_at = 0.0
        self.events: list[dict] = []
        self.slept_s = 0.0

    def _measure(self, seconds: float) -> Idle:
        self.drain()  # nothing queued on the GPU, then let its draw fall
        self.meter.sleep(self.cfg.settle_seconds)
        idle = self.meter.idle(seconds)
        self.slept_s += self.cfg.settle_seconds + idle.seconds
        return idle

    def _calibrate(self, why: str) -> None:
        idle = self._measure(self.cfg.calibration_seconds)
        self.latest, self.checked_at = idle, self.meter.clock()
        if self.calibration is None:
            self.calibration = idle
        self.events.append({"event": why, "at_s": self.checked_at, **idle.to_dict()})

    def session(self) -> Idle:
        """The session's first calibration (the paper protocol's idle power)."""
        if not self.meter.available:
            return Idle(None, 0.0, None)
        if self.calibration is None:
            self._calibrate("calibration")
        return self.calibration

    def current(self) -> Idle:
        """The latest calibration, re-checked for drift when one is due."""
        if not self.meter.available:
            return Idle(None, 0.0, None)
        if self.latest is None:
            self._calibrate("calibration")
        elif self.meter.clock() - self.checked_at >= self.cfg.recheck_every_s:
            check = self._measure(self.cfg.check_seconds)
            base = self.latest.power_w
            drift = (None if check.power_w is None or not base
                     else abs(check.power_w - base) / base)
            self.events.append({"event": "drift check", "at_s": self.meter.clock(), "drift": drift,
                                **check.to_dict()})
            if drift is None or drift > self.cfg.drift_tolerance:
                self._calibrate("recalibration after drift")
            else:
                self.checked_at = self.meter.clock()
        return self.latest

    def record(self, used: Idle) -> dict:
        """What a cell records: the idle reading it used, when, and the session's history."""
        return {**used.to_dict(), "policy": "calibrated once per session, drift-checked",
                "now_s": self.meter.clock(), "session_events": list(self.events)}


def _torch_uuid(device) -> str | None:
    try:
        import torch

        props = torch.cuda.get_device_properties(torch.device(device))
        uuid = getattr(props, "uuid", None)
        return f"GPU-{uuid}" if uuid is not None else None
    except Exception:  # noqa: BLE001 - best effort; the index fallback follows
        return None


def open_meter(device, *, nvml: Any = None, clock: Callable[[], float] = time.perf_counter,
               sleep: Callable[[float], None] = time.sleep) -> EnergyMeter:
    """A meter for `device`. CPU devices and machines without NVML get an unavailable meter."""
    import torch

    dev = torch.device(device)
    if dev.type != "cuda":
        return EnergyMeter(reason=f"device is {dev.type}: GPU energy not measured", clock=clock,
                           sleep=sleep)
    if nvml is None:
        try:
            import pynvml as nvml  # from the nvidia-ml-py distribution
        except ImportError:
            return EnergyMeter(reason="nvidia-ml-py is not installed (pip install nvidia-ml-py)",
                               clock=clock, sleep=sleep)
    try:
        nvml.nvmlInit()
    except nvml.NVMLError as exc:  # NVMLError_LibraryNotFound without the driver
        return EnergyMeter(reason=f"NVML unavailable: {type(exc).__name__}: {exc}", clock=clock,
                           sleep=sleep)
    handle = None
    uuid = _torch_uuid(dev) if getattr(nvml, "__name__", "") == "pynvml" else None
    try:
        if uuid is not None:
            handle = nvml.nvmlDeviceGetHandleByUUID(uuid)
    except (nvml.NVMLError, AttributeError, TypeError, ValueError):
        handle = None  # e.g. a MIG slice or an unexpected UUID format: fall back to the index
    if handle is None:
        index = dev.index if dev.index is not None else 0
        try:
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
        except nvml.NVMLError as exc:
            return EnergyMeter(nvml, reason=f"NVML cannot open GPU {index}: {exc}", clock=clock,
                               sleep=sleep)
        if uuid is None:
            log.info("NVML device chosen by index %d (check CUDA_VISIBLE_DEVICES ordering)", index)
    return EnergyMeter(nvml, handle, clock=clock, sleep=sleep)
