"""Any character a user may put in a string value, and the encodings spreadsheets and editors
write, survive the kit's own files: the tidy CSV (written, opened in a spreadsheet, saved
again, read back), text the kit reads (calibration text, configuration files), and the
report (LaTeX, Markdown, CSV, JSON)."""

from __future__ import annotations

import codecs
import json

import pandas as pd
import pytest

from repro.core.textio import decode
from repro.results.schema import COLUMNS, read_csv, to_csv_text, validate

# what people name things: accents, CJK, emoji, right-to-left, combining marks, quotes, the CSV
# and LaTeX specials, a leading '#' (once a comment marker), a formula-looking cell, spaces
NASTY = ["café-ü", "模型-中文", "🙂 emoji", "שלום", "e\u0301", 'say "hi"', "a,b", "#tag",
         "=SUM(A1)", "50% & $x_{1}^2~\\", "tab\there", " padded ", "line\nbreak", "cr\rreturn",
         "semi;colon", "'quoted'", "<b>", "NaN", "None", "null", "-", "0"]
LATIN1 = [s for s in NASTY if all(ord(c) < 256 for c in s)]


def frame(strings) -> pd.DataFrame:
    rows = []
    for i, s in enumerate(strings):
        rows.append({"model": f"m{s}", "criterion": "maw", "level": float(i % 7 * 10), "variant": s,
                     "task": f"t{s}", "metric": "acc", "filter": "none", "value": 0.5 + i / 1000,
                     "stderr": None if i % 2 else 0.01, "unit": "", "kept_width": 96,
                     "expansion_ratio": 3.0, "params": None if i % 3 == 0 else 1000 + i,
                     "source": "reproduction", "run_id": f"run-{i}"})
    return validate(pd.DataFrame(rows, columns=list(COLUMNS)))


def resaved(text: str, delimiter: str = ",", terminator: str = "\r\n") -> str:
    """The table as a spreadsheet writes it: its own row ends (CRLF) and delimiter; a line
    break inside a cell stays as it was."""
    import csv
    import io

    rows = list(csv.reader(io.StringIO(text, newline="")))
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator=terminator).writerows(rows)
    return out.getvalue()


def spreadsheet_saves(text: str):
    """The same table as spreadsheets save it again (name, bytes)."""
    yield "utf-8", text.encode()
    yield "utf-8 with BOM", codecs.BOM_UTF8 + text.encode()
    yield "utf-8 with BOM, CRLF", codecs.BOM_UTF8 + resaved(text).encode()
    yield "utf-16 with BOM, CRLF", resaved(text).encode("utf-16")
    yield "utf-16 'Unicode text' (tab-separated)", resaved(text, "\t").encode("utf-16")
    yield "padded rows and columns", resaved(text).replace("\r\n", ",\r\n").encode() + b",,,,,,,,,,,,,,,\r\n\r\n"


@pytest.mark.light
def test_every_string_round_trips_through_the_tidy_csv(tmp_path):
    df = frame(NASTY)
    text = to_csv_text(df)
    for name, data in spreadsheet_saves(text):
        path = tmp_path / "x.csv"
        path.write_bytes(data)
        back = read_csv(path)
        assert sorted(back.variant) == sorted(NASTY) and sorted(back.task) == sorted(f"t{s}" for s in NASTY)
        assert to_csv_text(back) == text, name  # the same bytes when the kit writes it again


@pytest.mark.light
def test_latin1_and_windows_1252_saves_round_trip(tmp_path):
    df = frame(LATIN1 + ["€uro"])  # 0x80 in Windows-1252, Excel's "CSV" on Windows
    text = to_csv_text(df)
    path = tmp_path / "x.csv"
    path.write_bytes(resaved(text).encode("cp1252"))
    assert to_csv_text(read_csv(path)) == text


@pytest.mark.light
@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le-bom", "utf-32", "cp1252"])
def test_text_the_kit_reads_decodes_the_same(encoding):
    text = "Calibration text: café, naïve, 50% off.\nSecond line.\n"
    data = ((codecs.BOM_UTF16_LE + text.encode("utf-16-le")) if encoding == "utf-16-le-bom"
            else text.replace("\n", "\r\n").encode(encoding))
    assert decode(data, "x")[0] == text


@pytest.mark.light
def test_a_configuration_file_saved_by_an_editor_loads(tmp_path):
    from repro.config.efficiency import FILE, load_config

    plain = load_config(FILE)
    for enc, data in (("bom-crlf", codecs.BOM_UTF8 + FILE.read_bytes().replace(b"\n", b"\r\n")),
                      ("utf-16", FILE.read_text(encoding="utf-8").encode("utf-16"))):
        path = tmp_path / f"{enc}.yaml"
        path.write_bytes(data)
        loaded = load_config(path)
        assert loaded.corrected == plain.corrected and loaded.paper == plain.paper, enc


@pytest.mark.light
def test_strings_reach_the_report_escaped_and_whole(tmp_path):
    """tables, analysis and claims from data whose names hold every special character: the
    LaTeX compiles-safe (escaped), the CSV and JSON read back to the same strings."""
    from repro.core.atomicio import write_text
    from repro.report.render import render
    from tests.faults.conftest import PUBLISHED

    data = tmp_path / "data"
    pub = pd.concat([read_csv(p) for p in sorted(PUBLISHED.glob("*.csv"))], ignore_index=True)
    write_text(data / "published.csv", to_csv_text(pub))
    write_text(data / "odd.csv", to_csv_text(frame(NASTY)))
    out = tmp_path / "gen"
    render(data, out)
    rel = pd.read_csv(out / "analysis" / "relative_change.csv", dtype=str, keep_default_na=False)
    assert {f"m{s}" for s in NASTY} <= set(rel.model)
    json.loads((out / "claims.json").read_text())
    for tex in (out / "tables").glob("*.tex"):
        assert "\r" not in tex.read_text()
