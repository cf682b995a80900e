"""CI's container check (.ci/same_rows.py): the container's shorter smoke run must give the
host's rows byte for byte; each way it can fail is tested to fail."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.light
SCRIPT = Path(__file__).resolve().parents[1] / ".ci" / "same_rows.py"
HEADER = "model,criterion,level,variant,task,metric,filter,value,stderr,unit,kept_width,expansion_ratio,params,source,run_id"
ROWS = [
    "m,maw,0.0,,t,acc,none,0.5,0.01,,96,3.0,100,reproduction,smoke",
    "m,maw,60.0,,t,acc,none,0.25,0.02,,38,1.2,80,reproduction,smoke",
    "m,maw,20.0,,t,acc,none,0.4,0.02,,77,2.4,90,reproduction,smoke",
]


def _run(tmp_path, full, short, *extra):
    (tmp_path / "full.csv").write_text("\n".join([HEADER, *full]) + "\n")
    (tmp_path / "short.csv").write_text("\n".join([HEADER, *short]) + "\n")
    r = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "full.csv"),
                        str(tmp_path / "short.csv"), *extra], capture_output=True, text=True)
    return r.returncode, r.stdout


def test_a_subset_with_equal_rows_passes(tmp_path):
    rc, out = _run(tmp_path, ROWS, ROWS[:2], "--min-rows", "2")
    assert rc == 0 and "all 2 rows" in out


def test_a_changed_value_a_missing_row_or_too_few_rows_fail(tmp_path):
    changed = ROWS[1].replace("0.25", "0.250001")
    rc, out = _run(tmp_path, ROWS, [ROWS[0], changed])
    assert rc == 1 and "value '0.250001' here, '0.25'" in out
    rc, out = _run(tmp_path, ROWS[:1], ROWS[:2])
    assert rc == 1 and "only in" in out and "'level': '60.0'" in out
    rc, out = _run(tmp_path, ROWS, ROWS[:2], "--min-rows", "3")
    assert rc == 1 and "at least 3 rows expected" in out
    rc, _ = _run(tmp_path, ROWS, [ROWS[0].replace(",96,", ",95,")])  # any field, not only value
    assert rc == 1


def test_when_a_row_ran_is_not_compared(tmp_path):
    """The container's run is later than the host's: its rows' ran_at differ, their values not."""
    header = HEADER + ",ran_at"
    full = [r + ",2026-12-07T05:35:30Z" for r in ROWS]
    short = [r + ",2026-12-07T06:20:30Z" for r in ROWS[:2]]
    (tmp_path / "full.csv").write_text("\n".join([header, *full]) + "\n")
    (tmp_path / "short.csv").write_text("\n".join([header, *short]) + "\n")
    r = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "full.csv"),
                        str(tmp_path / "short.csv")], capture_output=True, text=True)
    assert r.returncode == 0 and "all 2 rows" in r.stdout
