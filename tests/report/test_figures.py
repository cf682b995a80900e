"""Figures: drawn from the configuration, written atomically, identical on every rerun."""

from __future__ import annotations

from pathlib import Path

import pytest

from repro.report import figures
from repro.results.schema import load_dir

pytestmark = pytest.mark.light
DATA = Path(__file__).resolve().parents[2] / "data"


def test_save_writes_both_formats_atomically(tmp_path):
    plt = figures._Figures()
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [1, 0])
    written = figures.save(fig, tmp_path / "f" / "line")
    assert [p.name for p in written] == ["line.pdf", "line.png"]
    assert sorted(p.name for p in (tmp_path / "f").iterdir()) == ["line.pdf", "line.png"]
    assert written[0].read_bytes().startswith(b"%PDF") and b"CreationDate" not in written[0].read_bytes()
    assert written[1].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_failed_figure_leaves_no_file_behind(tmp_path):
    class Broken:
        def savefig(self, buf, format, metadata):
            buf.write(b"%PDF-half")
            raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        figures.save(Broken(), tmp_path / "x")
    assert list(tmp_path.iterdir()) == []  # neither a truncated PDF nor a temporary file


def test_dichotomy_uses_the_configured_tasks_and_names():
    df = load_dir(DATA)
    fig = figures.dichotomy(figures._Figures(), df)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["Llama-3.2-1B", "Llama-3.2-3B"]  # models.yaml display names
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    # the class is what the seeds claim, not what the data show (the instruct IFEval falls)
    assert labels[:2] == ["MMLU (claimed fragile)", "GSM8K (claimed fragile)"]
    assert "IFEval (claimed robust)" in labels


def test_a_task_keeps_its_colour_in_every_figure():
    from repro.report.figure_style import task_colour

    df = load_dir(DATA)
    plt = figures._Figures()

    def colours(fig):
        return {t.get_text().split(" (")[0]: h.get_color()
                for h, t in zip(fig.legends[0].legend_handles, fig.legends[0].get_texts(), strict=True)}

    paper = colours(figures.dichotomy(plt, df))
    instruct = colours(figures.dichotomy(plt, df, {"llama-3.2-1b-instruct": "1B-Instruct"}))
    assert instruct and all(paper[k] == c for k, c in instruct.items())  # same task, same colour
    assert len(set(paper.values())) == len(paper)                        # tasks apart
    assert paper["IFEval"] == task_colour("ifeval")


def test_figures_draw_95_percent_bands_where_the_data_have_standard_errors():
    from repro.report.figure_style import rel_band

    df = load_dir(DATA)
    mmlu = rel_band(df, "llama-3.2-1b", ["mmlu"])
    pruned = mmlu[mmlu.index > 0]
    assert len(pruned) == 6 and (pruned.lo < pruned.change).all() and (pruned.hi > pruned.change).all()
    assert rel_band(df, "llama-3.2-1b", ["wikitext"]).lo.isna().all()  # perplexity: no stderr
    fig = figures.dichotomy(figures._Figures(), df)
    assert any(type(c).__name__ == "FillBetweenPolyCollection" or "PolyCollection" in type(c).__name__
               for c in fig.axes[0].collections)
