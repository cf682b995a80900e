"""The self-test's paper-tasks step: on a GPU, `repro settings-diff` on the paper's own tasks
for a paper model, a few documents each: per task what the fast setting changes against the
paper's batch 1 (metric change, loglikelihood max |d|, generations that differ), so a reviewer
chooses the setting with numbers. It reads no network (the self-test runs offline): it runs
when the model's weights and the paper's task data are in the caches (`repro prepare`; the
image prefetches the data) and says why not otherwise. On the CPU it is left out: it is a GPU
measurement (tests/ops/test_settings_diff.py runs the same command on the CPU).
"""

from __future__ import annotations

import json

from repro.core.options import is_cuda


def not_ready(spec) -> str | None:
    """Why the step cannot run offline for this model, or None."""
    from repro.config import suites
    from repro.ops.prefetch import read_marker

    marker = read_marker() or {}
    missing = [t.name for t in suites.resolve(spec.suite) if t.name not in marker.get("tasks", [])]
    if missing:
        return (f"the paper's task data are not cached ({', '.join(missing[:3])}...): the image "
                "prefetches them; elsewhere run python repro/ops/prefetch.py")
    if spec.source == "hub":
        from huggingface_hub import try_to_load_from_cache

        if not isinstance(try_to_load_from_cache(spec.hf_id, "config.json", revision=spec.revision), str):
            return f"{spec.name}'s weights are not cached: python -m repro prepare --models {spec.name}"
    return None


def paper_tasks(ctx) -> dict:
    from repro.config import models

    limit = ctx.scale.paper_task_limit
    if not is_cuda(ctx.device) or limit is None:
        return {"skipped": "a GPU measurement: on this device the local tasks' comparison (batch step) only"}
    spec = models.get(ctx.cfg.paper_model)
    reason = not_ready(spec)
    if reason:
        return {"skipped": reason}
    out = ctx.out / "settings-diff"
    ctx.stage("settings-diff", "--models", spec.name, "--limit", str(limit), "--device", ctx.device,
              "--out", str(out))
    rec = json.loads((out / "settings-diff.json").read_text(encoding="utf-8"))
    m = rec["models"][spec.name]
    return {"model": spec.name, "limit": limit, "dtype": m["dtype"], "tasks": m["levels"]["0"]}


def summary_lines(p: dict) -> list[str]:
    if "skipped" in p:
        return [f"  paper tasks skipped: {p['skipped']}"]
    lines = [f"  paper tasks fast vs paper on {p['model']} ({p['dtype']}), first {p['limit']} "
             "documents per task:"]
    for t, c in p["tasks"].items():
        what = (f"{c['outputs_differing']}/{c['requests']} generations differ" if c["kind"] == "generation"
                else f"{c['requests']} requests, max |d| {c['max_abs_diff']:.2e} nats, "
                     f"{c['outside_tolerance']} outside tolerance")
        lines.append(f"    {t:<18} {what}; metric d {c['metric_diff']}")
    return lines
