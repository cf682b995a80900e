"""repro/config/extensions.yaml: loads, and a bad value is one line naming the key."""

from __future__ import annotations

import pytest
import yaml

from repro.config import extensions as ext_config
from repro.config.loader import load
from repro.config.suites import load_suites
from repro.core.errors import ReproError

pytestmark = pytest.mark.light


def test_shipped_file_loads_with_tasks_every_suite_knows():
    ext = ext_config.extensions()
    assert ext.sensitivity.criteria == ("maw",) and ext.sensitivity.levels == (10.0, 40.0)
    assert ext.allocations.owl.m == 5.0 and ext.allocations.owl.lam == 0.08  # OWL's README setting
    known = load_suites()
    for suite, task in ext.sensitivity.task_by_suite.items():
        assert task in known[suite], (suite, task)
    assert [(r.criterion, r.tag) for r in ext.report.rows][:3] == [("maw", ""), ("maw", "spare3"),
                                                                   ("maw", "owl")]


@pytest.mark.parametrize("change, message", [
    (lambda d: d["report"]["rows"].append({"criterion": "maw", "allocation": "spare0"}),
     "allocation 'spare0' is not uniform, owl or spareK"),
    (lambda d: d["sensitivity"].update(levels=[0, 10]), "levels must be percentages in (0, 100)"),
    (lambda d: d["allocations"]["owl"].update(k=3), "key 'allocations.owl.k': unknown key"),
])
def test_bad_values_are_one_line(tmp_path, change, message):
    data = yaml.safe_load(ext_config.FILE.read_text())
    change(data)
    path = tmp_path / "extensions.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ReproError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load(ext_config.Extensions, path)
