"""The fast setting (batched evaluation, variant token `fast`) in the report: a reproduction
evaluated only in it is shown and labelled in every table, figure and in the claims report,
judged as the same rows in the paper's setting would be; rows in the paper's setting always win,
and then nothing says "fast"."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from repro.core.ties import is_fast, paper_setting, setting_variant
from repro.report import figures, per_model
from repro.report.queries import (
    FAST_LABEL,
    candidates,
    current,
    reproduction_variant,
    setting_note,
    variant_tag,
)
from repro.report.tables import all_tables, neuron_table, score_table
from repro.results.schema import load_dir

pytestmark = pytest.mark.light

DATA = Path(__file__).resolve().parents[2] / "data"
FAST_NOTE = ("Reproduced rows were evaluated in the fast setting (batched, "
             "repro/config/evaluation.yaml fast:), not the paper's batch 1: scores can move with "
             "batching; python -m repro selftest on a GPU measures by how much.")
RULE_NOTE = "pruned with tie-break 'stable', not the paper's 'topk'"


@pytest.fixture(scope="module")
def pub() -> pd.DataFrame:
    return load_dir(DATA / "published")


def reproduced(pub: pd.DataFrame, variant: str, shift: float = 0.0, models=("llama-3.2-1b",),
               source_variant: str = "") -> pd.DataFrame:
    """The published rows of `models` in `source_variant` as a reproduction's in `variant`."""
    rows = pub[pub.model.isin(models) & (pub.variant == source_variant) & (pub.unit == "")].copy()
    rows["source"], rows["run_id"], rows["variant"] = "reproduction", f"run-{variant or 'paper'}", variant
    rows["value"] = rows["value"] + shift
    return rows


def frame(*parts: pd.DataFrame) -> pd.DataFrame:
    return current(pd.concat(parts, ignore_index=True))


def test_variant_text_of_the_fast_setting():
    assert [is_fast(v) for v in ("", "fast", "chat-fast-owl", "fast-fp16-stable", "fp16")] == [
        False, True, True, True, False]
    assert setting_variant("chat-owl", True) == "chat-fast-owl"
    assert setting_variant("layer07-stable", True) == "layer07-fast-stable"
    assert setting_variant("fast-fp16", False) == "fp16"
    assert paper_setting("chat-fast-owl-stable") == "chat-owl"
    # a text no kit wrote is read by its tokens, `fast` where the kit writes it
    assert setting_variant("chat-x-y", True) == "chat-fast-x-y" and is_fast("x-fast-y")
    assert setting_variant("chat-fast-x-y", False) == "chat-x-y"


def test_a_paper_setting_row_always_wins_over_a_fast_one(pub):
    assert candidates() == ["", "stable", "fast", "fast-stable"]
    assert candidates("fp16") == ["fp16", "fp16-stable", "fast-fp16", "fast-fp16-stable"]
    tasks = ["ifeval"]
    for held, shown in ((["fast-stable", "fast"], "fast"), (["fast", "stable"], "stable"),
                        (["fast", ""], ""), (["fast-stable"], "fast-stable"), ([], "")):
        df = frame(pub, *(reproduced(pub, v) for v in held))
        assert reproduction_variant(df, "llama-3.2-1b", tasks) == shown, held
    assert setting_note("") == [] and setting_note("stable") == []
    assert setting_note("fast") == setting_note("chat-fast-stable") == [FAST_NOTE]
    assert [variant_tag(v) for v in ("", "fast", "stable", "fast-stable")] == [
        "", FAST_LABEL, "tie-break stable", "fast setting, tie-break stable"]


def _cells(table: dict, label: str) -> list[list[str]]:
    return [[c["text"] for c in r["cells"]] for r in table["rows"] if r["label"] == label]


def test_fast_only_reproduction_is_shown_with_the_fast_note(pub):
    paper = score_table(frame(pub, reproduced(pub, "", shift=0.01)), "improving", "llama-3.2-1b")
    fast = score_table(frame(pub, reproduced(pub, "fast", shift=0.01)), "improving", "llama-3.2-1b")
    # the same rows, value for value; only the note says which setting they were evaluated in
    assert _cells(fast, "reproduced") == _cells(paper, "reproduced") and _cells(fast, "reproduced")
    assert fast["rows"] == paper["rows"]
    assert fast["notes"] == [*paper["notes"], FAST_NOTE]
    assert FAST_NOTE not in paper["notes"]


def test_with_both_settings_the_paper_setting_is_shown_and_nothing_says_fast(pub):
    both = frame(pub, reproduced(pub, "", shift=0.01), reproduced(pub, "fast", shift=0.5))
    table = score_table(both, "improving", "llama-3.2-1b")
    paper = score_table(frame(pub, reproduced(pub, "", shift=0.01)), "improving", "llama-3.2-1b")
    assert table == paper and FAST_NOTE not in table["notes"]


def test_fast_stable_is_marked_for_its_rule_and_its_setting(pub):
    table = score_table(frame(pub, reproduced(pub, "fast-stable")), "improving", "llama-3.2-1b")
    assert _cells(table, "reproduced") and FAST_NOTE in table["notes"]
    assert any(RULE_NOTE in n for n in table["notes"])
    # a stable run in the paper's setting beats a fast one with the paper's rule
    table = score_table(frame(pub, reproduced(pub, "fast"), reproduced(pub, "stable")), "improving",
                        "llama-3.2-1b")
    assert FAST_NOTE not in table["notes"] and any(RULE_NOTE in n for n in table["notes"])


def test_the_neuron_selection_table_shows_a_fast_fp16_reproduction(pub):
    fast = frame(pub, reproduced(pub, "fast-fp16", source_variant="fp16"))
    table = neuron_table(fast)
    assert [r["label"] for r in table["rows"]].count("reproduced") == 4 and table["notes"][-1] == FAST_NOTE
    paper = neuron_table(frame(pub, reproduced(pub, "fp16", source_variant="fp16")))
    assert table["rows"] == paper["rows"] and FAST_NOTE not in paper["notes"]
    # its own table beside it, as a stable one gets: marked too
    names = {e.name: e.variant for e in per_model.neuron_tables(fast)}
    assert names == {"neuron-selection-llama-3.2-1b-fast-fp16": "fast-fp16"}
    assert all_tables(fast)["neuron-selection-llama-3.2-1b-fast-fp16"]["notes"][-1] == FAST_NOTE


def test_every_table_of_a_fast_only_model_is_its_paper_setting_table_with_the_note():
    from tests.report.test_every_model import SMOKE, smoke_rows

    smoke = smoke_rows()
    fast = smoke.assign(variant=smoke.variant.map(lambda v: setting_variant(v, True)))
    assert set(fast.variant) == {"fast", "fast-fp32", "fast-spare3", "fast-owl", "layer00-fast",
                                 "layer01-fast", "layer02-fast"}
    base = load_dir(DATA)
    paper_tables, fast_tables = all_tables(frame(base, smoke)), all_tables(frame(base, fast))
    renamed = {k.replace("-fp32", "-fast-fp32"): v for k, v in paper_tables.items()}
    assert renamed.keys() == fast_tables.keys()
    mine = [k for k in fast_tables if SMOKE in k]
    assert sorted(mine) == sorted([f"levels-{SMOKE}", f"neuron-selection-{SMOKE}-fast-fp32",
                                   f"sensitivity-{SMOKE}-maw", f"extensions-{SMOKE}"])
    for name in mine:
        p, f = renamed[name], fast_tables[name]
        assert f["rows"] == p["rows"], name  # the same values, baselines included
        assert f["notes"] == [*p["notes"], FAST_NOTE], name
    for name in set(fast_tables) - set(mine):
        assert fast_tables[name] == renamed[name], name
    assert per_model.dichotomy_models(frame(base, fast)) == ["llama-3.2-1b-instruct", SMOKE]


def test_an_extensions_table_never_shows_a_fast_row_beside_batch_1_ones():
    from tests.report.test_every_model import SMOKE, smoke_rows

    smoke = smoke_rows()
    owl = smoke.variant == "owl"
    mixed = smoke.assign(variant=smoke.variant.where(~owl, "fast-owl"))
    table = all_tables(frame(load_dir(DATA), mixed))[f"extensions-{SMOKE}"]
    assert [r["label"] for r in table["rows"]] == ["unpruned", "MAW", "MAW, spare3", "RANDOM"]
    assert table["notes"][-1] == "Not shown, evaluated in the fast setting only: MAW, owl."
    assert FAST_NOTE not in table["notes"]


def _legend(fig) -> list[str]:
    return [t.get_text() for leg in [*fig.legends, *(a.get_legend() for a in fig.axes)] if leg
            for t in leg.get_texts()]


def test_figures_draw_a_fast_reproduction_and_say_so(pub):
    plt = figures._Figures()
    both_models = ("llama-3.2-1b", "llama-3.2-3b")
    fast = frame(pub, reproduced(pub, "fast", models=both_models),
                 reproduced(pub, "fast-fp16", source_variant="fp16"))
    assert "reproduced (fast setting)" in _legend(figures.dichotomy(plt, fast))
    scatter = _legend(figures.mmlu_truthfulqa(plt, fast))
    assert "Llama-3.2-3B (reproduced, fast setting): r = -0.864, p = 0.012" in scatter
    assert "MAW (reproduced, fast setting)" in _legend(figures.neuron_selection(plt, fast))
    # one model fast, the other in the paper's setting: the legend names which is which
    mixed = frame(pub, reproduced(pub, "fast"), reproduced(pub, "", models=("llama-3.2-3b",)))
    assert "reproduced (Llama-3.2-1B: fast setting)" in _legend(figures.dichotomy(plt, mixed))
    # premise broken: paper-setting rows beside the fast ones, and the legend is as before
    both = frame(pub, reproduced(pub, "fast", models=both_models),
                 reproduced(pub, "", models=both_models))
    legend = _legend(figures.dichotomy(plt, both))
    assert "reproduced" in legend and not any(FAST_LABEL in t for t in legend)
