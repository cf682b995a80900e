"""The self-test's last step: this host's rates for the run-time estimate (repro/ops/estimate.py
reads them from selftest.json `rates`, so `pipeline --dry-run` on this host needs no probe).

Measured for the models a run on this device prices: on CUDA the paper's models (random
weights of their exact shapes, efficiency.yaml) and the smoke model; on the CPU the smoke
model, at each model's own dtype and the self-test's threads.
"""

from __future__ import annotations

import datetime

from repro.core.options import is_cuda


def rates(ctx) -> dict:
    from repro.config import models
    from repro.ops.cost_probe import measure
    from repro.ops.cost_work import shape_of

    names = [ctx.cfg.model]
    if is_cuda(ctx.device):
        names += [m for m in models.paper_models() if m not in names]
    got = measure(names, device=ctx.device, threads=ctx.scale.threads,
                  dtypes={n: shape_of(n).dtype for n in names})
    rec = got.record()
    rec["source"] = f"the self-test of {datetime.date.today().isoformat()} on {got.device_name}"
    return rec


def summary_line(r: dict) -> str:
    per = ", ".join(f"{name} {1e3 * m['decode']['a'] + 1e3 * m['decode']['b']:.1f} ms/step"
                    for name, m in r["models"].items())
    return (f"  rates       stage start {r['stage_start_s']:.1f} s, lm-eval {r['cell_s']:.2f} s a "
            f"cell; batch-1 decode: {per} (selftest.json `rates`: pipeline --dry-run)")
