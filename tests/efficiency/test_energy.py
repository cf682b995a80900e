"""Energy bookkeeping against a fake NVML and a fake clock: unit conversion (mJ, mW), idle
subtraction, 'not measured' (None, never 0) without a driver or on CPU."""

import types

import pytest

from repro.efficiency import energy
from repro.efficiency.energy import EnergyMeter, Idle, Reading, net_energy_j, open_meter, per_unit


class FakeNVMLError(Exception):
    pass


class FakeLibraryNotFound(FakeNVMLError):
    pass


def fake_nvml(clock, *, power_w=60.0, init_error=None, energy_supported=True):
    """A pynvml stand-in whose energy counter integrates `state['power_w']` over the fake clock."""
    state = {"power_w": power_w, "mj": 5_000_000.0, "t": clock()}

    def advance():
        t = clock()
        state["mj"] += state["power_w"] * (t - state["t"]) * 1000.0  # W * s = J -> mJ
        state["t"] = t

    def energy_mj(handle):
        if not energy_supported:
            raise FakeNVMLError("Not Supported")
        advance()
        return int(state["mj"])

    def set_power(w):  # integrate up to now at the old power, then switch
        advance()
        state["power_w"] = w

    state["set_power"] = set_power

    def init():
        if init_error:
            raise init_error

    mod = types.SimpleNamespace(
        NVMLError=FakeNVMLError, NVML_CLOCK_SM=1, NVML_CLOCK_MEM=2, NVML_TEMPERATURE_GPU=0,
        nvmlInit=init,
        nvmlDeviceGetHandleByIndex=lambda i: f"gpu{i}",
        nvmlDeviceGetTotalEnergyConsumption=energy_mj,
        nvmlDeviceGetPowerUsage=lambda h: int(state["power_w"] * 1000),  # mW
        nvmlDeviceGetClockInfo=lambda h, kind: {1: 1755, 2: 6251}[kind],
        nvmlDeviceGetMaxClockInfo=lambda h, kind: {1: 1980, 2: 6251}[kind],
        nvmlDeviceGetTemperature=lambda h, kind: 41,
        nvmlDeviceGetName=lambda h: b"NVIDIA Fake",
        nvmlDeviceGetUUID=lambda h: "GPU-0000",
        nvmlDeviceGetEnforcedPowerLimit=lambda h: 350_000,  # mW
        nvmlSystemGetDriverVersion=lambda: "580.1",
        nvmlSystemGetNVMLVersion=lambda: "13.580.1",
    )
    return mod, state


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, s):
        self.now += s


def test_unit_conversions():
    assert energy.mj_to_j(1500) == 1.5
    assert energy.mw_to_w(61_250) == 61.25
    assert energy.j_to_kwh(3.6e6) == 1.0
    assert energy.j_to_kwh(None) is None


def test_idle_power_and_net_energy_with_fake_nvml():
    clock = Clock()
    nvml, state = fake_nvml(clock, power_w=50.0)
    meter = open_meter("cuda:0", nvml=nvml, clock=clock, sleep=clock.sleep)
    assert meter.available, meter.reason
    idle = meter.idle(10.0)
    assert idle.power_w == pytest.approx(50.0, rel=1e-4) and idle.seconds == 10.0

    def work():
        state["set_power"](250.0)
        clock.sleep(2.0)  # 2 s at 250 W = 500 J raw
        state["set_power"](50.0)
        return "done"

    reading, out = meter.region(work)
    assert out == "done"
    assert reading.raw_j == pytest.approx(500.0, abs=1e-2)
    assert reading.seconds == 2.0 and reading.power_w_mean == pytest.approx(250.0, rel=1e-4)
    net = net_energy_j(reading, idle)  # 500 J - 50 W * 2 s
    assert net == pytest.approx(400.0, abs=1e-2)
    assert per_unit(net, 100) == pytest.approx(4.0, abs=1e-4)  # J/token
    assert reading.sm_clock_mhz == 1755 and reading.power_w_end == 50.0


def test_device_record_converts_power_limit_and_names():
    clock = Clock()
    nvml, _ = fake_nvml(clock)
    rec = open_meter("cuda", nvml=nvml, clock=clock, sleep=clock.sleep).device_record()
    assert rec["gpu_name"] == "NVIDIA Fake" and rec["driver_version"] == "580.1"
    assert rec["power_limit_w"] == 350.0 and rec["max_sm_clock_mhz"] == 1980
    assert rec["energy_measured"] is True


def test_missing_driver_means_not_measured_never_zero():
    clock = Clock()
    nvml, _ = fake_nvml(clock, init_error=FakeLibraryNotFound("NVML Shared Library Not Found"))
    meter = open_meter("cuda:0", nvml=nvml, clock=clock, sleep=clock.sleep)
    assert not meter.available and "LibraryNotFound" in meter.reason
    idle = meter.idle(10.0)
    assert idle.power_w is None and clock.now == 0.0  # no pointless waiting
    reading, _ = meter.region(lambda: clock.sleep(1.0))
    assert reading.raw_j is None and reading.power_w_mean is None
    assert net_energy_j(reading, idle) is None and per_unit(None, 10) is None


def test_real_pynvml_without_driver_is_not_measured():
    pynvml = pytest.importorskip("pynvml")
    try:
        pynvml.nvmlInit()
        pytest.skip("an NVIDIA driver is present")
    except pynvml.NVMLError:
        pass
    meter = open_meter("cuda:0", nvml=pynvml)
    assert not meter.available and meter.energy_j() is None


def test_cpu_device_is_not_metered():
    meter = open_meter("cpu")
    assert not meter.available and "cpu" in meter.reason
    assert meter.device_record()["energy_measured"] is False


def test_gpu_without_energy_counter():
    clock = Clock()
    nvml, _ = fake_nvml(clock, energy_supported=False)
    meter = open_meter("cuda", nvml=nvml, clock=clock, sleep=clock.sleep)
    assert not meter.available and "total-energy counter" in meter.reason
    assert meter.power_w() == 60.0  # power and clocks are still recorded


def test_net_energy_is_not_clipped_and_needs_both_parts():
    r = Reading(raw_j=10.0, seconds=1.0)
    assert net_energy_j(r, Idle(power_w=12.0, seconds=1.0, energy_j=12.0)) == pytest.approx(-2.0)
    assert net_energy_j(r, Idle(power_w=None, seconds=0.0, energy_j=None)) is None
    assert net_energy_j(r, None) is None
    assert per_unit(5.0, 0) is None


def test_unavailable_meter_has_reason():
    m = EnergyMeter(reason="x")
    assert not m.available and m.snapshot()["power_w_end"] is None


def test_idle_is_calibrated_once_per_session_and_recalibrated_on_drift():
    from types import SimpleNamespace

    from repro.efficiency.energy import IdleBaseline

    clock = Clock()
    nvml, state = fake_nvml(clock, power_w=50.0)
    meter = open_meter("cuda:0", nvml=nvml, clock=clock, sleep=clock.sleep)
    cfg = SimpleNamespace(calibration_seconds=30.0, settle_seconds=5.0, check_seconds=3.0,
                          recheck_every_s=600.0, drift_tolerance=0.10)
    base = IdleBaseline(meter, cfg)
    first = base.current()
    assert first.power_w == pytest.approx(50.0, rel=1e-4) and first.seconds == 30.0
    assert base.slept_s == 35.0  # settle + 30 s, once
    for _ in range(10):  # every later workload within recheck_every_s: no sleep at all
        clock.sleep(30.0)
        assert base.current() is first
    assert base.slept_s == 35.0 and len(base.events) == 1
    clock.sleep(400.0)  # 700 s since the calibration: a drift check (settle + 3 s), no drift
    assert base.current() is first and base.slept_s == 35.0 + 8.0
    assert base.events[-1]["event"] == "drift check" and base.events[-1]["drift"] < 0.01
    state["set_power"](60.0)  # the idle draw moved by 20%: the next due check recalibrates
    clock.sleep(700.0)
    now = base.current()
    assert now.power_w == pytest.approx(60.0, rel=1e-4)
    assert [e["event"] for e in base.events][-2:] == ["drift check", "recalibration after drift"]
    assert base.session() is first  # the paper protocol keeps the session's calibration
    rec = base.record(now)
    assert rec["power_w"] == pytest.approx(60.0, rel=1e-4) and len(rec["session_events"]) == 4


def test_unavailable_meter_never_sleeps_for_idle():
    from types import SimpleNamespace

    from repro.efficiency.energy import IdleBaseline

    clock = Clock()
    base = IdleBaseline(open_meter("cpu", clock=clock, sleep=clock.sleep),
                        SimpleNamespace(calibration_seconds=30.0, settle_seconds=5.0))
    assert base.current().power_w is None and base.session().power_w is None
    assert clock.now == 0.0 and base.slept_s == 0.0
