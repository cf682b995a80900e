"""report.html: the whole report in one self-contained file (no network: styles, script and
figures inline), for a reviewer with a browser. The digest first, then the tally, the
figures, every claim in a table that filters as one types (text, verdict), each claim's
details folded under it, the seeds' conflicts and the printed table cells.

The filter reads the page address too (report.html#verdict=fails&q=mmlu), so a link can
open a filtered view; the page marks itself `data-ready` once its script has run.
"""

from __future__ import annotations

import base64
from pathlib import Path

from repro.core.atomicio import write_text
from repro.report.templating import environment

# captions of the paper's own figures (every other figure is named after its file)
CAPTIONS = {
    "dichotomy": "The dichotomy: change from the unpruned model against the share of MLP neurons "
                 "pruned (MAW), with 95% bands where the data have standard errors. Each task "
                 "keeps its colour in every figure; its class is what the seeds claim.",
    "mmlu-truthfulqa": "MMLU against TruthfulQA-MC2 across pruning levels (labels: % pruned), "
                       "with Pearson's r and p per model and 95% error bars.",
    "efficiency": "Energy per token, batch-8 throughput and batch-1 latency (whole generate() "
                  "call) as change from the unpruned model, 95% bands over runs. Hollow markers: "
                  "levels measured on an Instruct checkpoint (Llama-3.2-1B at 0% and 40%).",
    "neuron-selection": "Neuron-selection criteria at 10% pruning (Llama-3.2-1B, float16): "
                        "change from the unpruned model (perplexities have no standard error).",
}
FIRST = ("dichotomy", "efficiency", "mmlu-truthfulqa", "neuron-selection")


def figures(folder: Path) -> list[dict]:
    """The PNG figures in `folder`, the paper's first, each as a data: URI with its caption."""
    pngs = sorted(folder.glob("*.png")) if folder.is_dir() else []
    order = {name: i for i, name in enumerate(FIRST)}
    pngs.sort(key=lambda p: (order.get(p.stem, len(FIRST)), p.stem))
    return [{"name": p.stem, "caption": CAPTIONS.get(p.stem, p.stem),
             "src": "data:image/png;base64," + base64.b64encode(p.read_bytes()).decode("ascii")}
            for p in pngs]


def write_html(out: Path, ctx: dict) -> Path:
    """out/report.html from the claims' report context (reports.context) and out/figures/."""
    env = environment(html=True)
    page = env.get_template("report.html.j2").render(**ctx, figures=figures(out / "figures"))
    write_text(out / "report.html", page)
    return out / "report.html"
