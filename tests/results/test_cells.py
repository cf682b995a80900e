import json

import pytest

from repro.core.errors import ReproError
from repro.results import cells
from repro.results.cells import Cell

pytestmark = pytest.mark.light

C = Cell("evaluate", "toy", "maw", 40.0, "piqa")


def test_roundtrip_with_attachment(tmp_path):
    cells.write(tmp_path, C, {"acc": 0.5}, {"kit": "x"}, {"samples.jsonl.gz": b"abc"})
    rec = cells.read(tmp_path, C)
    assert rec["payload"] == {"acc": 0.5}
    assert rec["cell"]["level"] == 40.0
    assert C.path(tmp_path).relative_to(tmp_path).as_posix() == "evaluate/toy/maw/level-40/piqa.json"


def test_truncated_mismatched_and_tampered_cells_are_rerun(tmp_path):
    p = cells.write(tmp_path, C, {"acc": 0.5}, {})
    text = p.read_text()
    p.write_text(text[: len(text) // 2])
    assert cells.read(tmp_path, C) is None
    other = Cell("evaluate", "toy", "maw", 50.0, "piqa")
    cells.write(tmp_path, other, {"acc": 0.5}, {})
    p.write_text(other.path(tmp_path).read_text())
    assert cells.read(tmp_path, C) is None
    rec = json.loads(other.path(tmp_path).read_text())
    rec["payload"]["acc"] = 0.9
    other.path(tmp_path).write_text(json.dumps(rec))
    assert cells.read(tmp_path, other) is None


def test_damaged_attachment_invalidates_cell(tmp_path):
    cells.write(tmp_path, C, {"acc": 0.5}, {}, {"samples.jsonl.gz": b"abc"})
    (tmp_path / "evaluate/toy/maw/level-40/piqa.samples.jsonl.gz").write_bytes(b"ab")
    assert cells.read(tmp_path, C) is None


def test_a_cell_of_a_newer_kit_format_is_left_alone_and_named(tmp_path, caplog):
    p = cells.write(tmp_path, C, {"acc": 0.5}, {"kit_version": "9.0", "kit_commit": "abc123"})
    rec = json.loads(p.read_text())
    assert cells.newer_kit(rec) is None and cells.written_by_newer_kit(tmp_path, C) is None
    rec["format"] = cells.FORMAT + 1
    p.write_text(json.dumps(rec))
    assert cells.read(tmp_path, C) is None  # not readable by this kit ...
    assert "newer kit" in caplog.text and "left alone" in caplog.text and "recomputed" not in caplog.text
    assert "abc123" in cells.written_by_newer_kit(tmp_path, C)  # ... and not to be overwritten
    rec["format"] = cells.FORMAT - 1  # an older format: recomputed
    p.write_text(json.dumps(rec))
    assert cells.written_by_newer_kit(tmp_path, C) is None


def test_a_cell_key_holds_its_variant_by_name_and_writes_it_as_every_kit_did():
    from repro.core.pruning import Allocation
    from repro.core.variant import Variant

    c = Cell("evaluate", "m", "maw", 10.0, "t", Variant(chat=True, allocation=Allocation("owl"),
                                                        tie_break="stable"))
    assert c.variant == "chat-owl-stable" and c == Cell("evaluate", "m", "maw", 10.0, "t", "chat-owl-stable")
    assert c.dims.chat and c.dims.allocation.tag == "owl" and c.dims.tie_break == "stable"
    assert c.key()["variant"] == "chat-owl-stable"
    with pytest.raises(ValueError, match="it writes 'chat-stable'"):
        Cell("evaluate", "m", "maw", 10.0, "t", "stable-chat")


def test_shards_are_disjoint_and_cover_the_grid():
    grid = [Cell("evaluate", m, "maw", lv, t) for m in "ab" for lv in (0, 10, 60) for t in "xyz"]
    parts = [cells.shard(grid, f"{i}/4") for i in range(1, 5)]
    flat = [c for p in parts for c in p]
    assert sorted(flat) == sorted(grid) and len(set(flat)) == len(grid)
    assert cells.shard(grid, None) == sorted(grid)


@pytest.mark.parametrize("bad", ["0/2", "3/2", "x", "1/0", "1-2"])
def test_bad_shard_specs(bad):
    with pytest.raises(ReproError, match="--shard"):
        cells.parse_shard(bad)


def test_progress_eta_uses_mean_cell_time():
    t = [0.0]
    prog = cells.Progress(4, clock=lambda: t[0])
    t[0] = 10.0
    line = prog.step(C, 10.0)
    assert "[1/4]" in line and "elapsed 0m10s" in line and "ETA 0m30s" in line
