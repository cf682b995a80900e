"""How data/published/*.csv were made: a one-off transcription of the paper's published figures.

Reads the original repository's result files (peremartra/llama-glu-expansion-pruning@97f91904,
kept OUTSIDE this project) and the neuron-selection figures quoted in the kit's reference notes,
and writes them in the kit's tidy schema (repro/results/schema.py). It is kept for provenance only:
the CSV files are the data; nothing in the kit runs this script.

    python data/transcribe_published.py /path/to/original-repo-data data/published
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

from repro.results.schema import COLUMNS, write_csv

HIDDEN = {"llama-3.2-1b": 2048, "llama-3.2-1b-instruct": 2048, "llama-3.2-3b": 3072}
LEVELS = (0, 10, 20, 30, 40, 50, 60)
# original CSV column -> (metric, filter, stderr column); acc_norm is "N/A" where the task has none
SCORE_COLUMNS = {
    "accuracy": ("acc", "none", None),
    "acc_norm": ("acc_norm", "none", None),
    "acc_norm,none": ("acc_norm", "none", "acc_norm_stderr,none"),
    "perplexity": ("perplexity", "none", None),
    "word_perplexity,none": ("word_perplexity", "none", None),
    "byte_perplexity,none": ("byte_perplexity", "none", None),
    "bits_per_byte,none": ("bits_per_byte", "none", None),
    "exact_match,strict-match": ("exact_match", "strict-match", "exact_match_stderr,strict-match"),
    "exact_match,flexible-extract": ("exact_match", "flexible-extract",
                                     "exact_match_stderr,flexible-extract"),
    "prompt_level_strict_acc,none": ("prompt_level_strict_acc", "none",
                                     "prompt_level_strict_acc_stderr,none"),
    "inst_level_strict_acc,none": ("inst_level_strict_acc", "none", None),
    "prompt_level_loose_acc,none": ("prompt_level_loose_acc", "none",
                                    "prompt_level_loose_acc_stderr,none"),
    "inst_level_loose_acc,none": ("inst_level_loose_acc", "none", None),
}
# lambada_openai's word_perplexity and bits_per_byte are stored as 0.0: the notebook read keys
# lm-eval does not emit for that task. They are placeholders, not measurements: skipped.
PLACEHOLDERS = {("lambada_openai", "word_perplexity"), ("lambada_openai", "bits_per_byte")}


def widths(src: Path) -> dict[tuple[str, int], tuple[int, int]]:
    """(model, level) -> (kept width, parameter count) from architectures/expansion_rates.json."""
    names = {"meta-llama/Llama-3.2-1B": "llama-3.2-1b", "meta-llama/Llama-3.2-3B": "llama-3.2-3b",
             "meta-llama/Llama-3.2-1B-Instruct": "llama-3.2-1b-instruct"}
    out = {}
    for m in json.loads((src / "architectures/expansion_rates.json").read_text())["models"]:
        model = names[m["base_model"]]
        orig, pruned = m["original_architecture"], m["pruned_architecture"]
        out[(model, 0)] = (orig["intermediate_size"], orig["total_parameters"])
        out[(model, m["pruning_pct"])] = (pruned["intermediate_size"], pruned["total_parameters"])
    return out


def row(model, level, task, metric, filt, value, stderr=None, *, criterion="maw", variant="",
        unit="", arch) -> dict:
    kept, params = arch[(model, level)]
    return {"model": model, "criterion": criterion, "level": float(level), "variant": variant,
            "task": task, "metric": metric, "filter": filt, "value": float(value),
            "stderr": "" if stderr is None else float(stderr), "unit": unit, "kept_width": kept,
            "expansion_ratio": kept / HIDDEN[model], "params": params, "source": "paper",
            "run_id": "paper"}


def scores(src: Path, csv_name: str, model: str, arch) -> pd.DataFrame:
    raw = pd.read_csv(src / "results" / csv_name, dtype=str, keep_default_na=False)
    rows = []
    for r in raw.to_dict("records"):
        for col, (metric, filt, err_col) in SCORE_COLUMNS.items():
            v = r.get(col, "")
            if v in ("", "N/A") or (r["task"], metric) in PLACEHOLDERS:
                continue
            err = r.get(err_col) if err_col else None
            rows.append(row(model, int(r["pruning_pct"]), r["task"], metric, filt, v,
                            err or None, arch=arch))
    return pd.DataFrame(rows, columns=list(COLUMNS))


def efficiency(src: Path, arch) -> pd.DataFrame:
    units = {"joules_per_token": "J/token", "throughput": "tokens/s", "ttlt": "ms",
             "energy_kwh": "kWh"}
    rows = []
    for size in ("1b", "3b"):
        d = json.loads((src / f"results/llama_{size}_carbon_complete_results_latest.json").read_text())
        model = f"llama-3.2-{size}"
        for m in d["models_evaluated"].values():
            level = int(m["pruning_pct"])
            for workload, r in m["results"].items():
                for fig, unit in units.items():
                    for stat in ("mean", "std", "min", "max"):
                        v = r[f"{fig}_{stat}"]
                        if v is not None:  # batch-8 workloads have no latency; 1-run std is null
                            rows.append(row(model, level, workload, f"{fig}_{stat}", "none", v,
                                            unit=unit, arch=arch))
                rows.append(row(model, level, workload, "runs_aggregated", "none",
                                r["num_runs_aggregated"], unit="runs", arch=arch))
                rows.append(row(model, level, workload, "runs_excluded_as_outliers", "none",
                                r["outliers_count"], unit="runs", arch=arch))
    return pd.DataFrame(rows, columns=list(COLUMNS))


def shots(src: Path, arch) -> pd.DataFrame:
    """The few-shot count of every task, per model and level (benchmarks[].num_fewshot of the
    complete-results JSON: one list per model, which every level ran with); unit 'shots'."""
    files = {"llama-3.2-1b": "llama_1b", "llama-3.2-3b": "llama_3b", "llama-3.2-1b-instruct": "llama_1b_I"}
    rows = []
    for model, stem in files.items():
        d = json.loads((src / f"results/{stem}_complete_results_latest.json").read_text())
        levels = sorted({int(m["pruning_pct"]) for m in d["models_evaluated"].values()})
        for b in d["benchmarks"]:
            for level in levels:
                rows.append(row(model, level, b["name"], "n_shot", "none", b["num_fewshot"],
                                unit="shots", arch=arch))
    return pd.DataFrame(rows, columns=list(COLUMNS))


# Neuron-selection comparison (notebook 00, Llama-3.2-1B, float16, 10% pruning, first run), as
# quoted in the kit's reference notes (shared/reference/paper-notes.md, "Numbers to anchor on").
NEURON_SELECTION = {  # task, metric -> baseline, MAW, VOW, PON
    ("wikitext", "word_perplexity"): (11.57, 17.49, 50.56, 72.52),
    ("lambada_openai", "perplexity"): (5.72, 20.54, 532.36, 2032.80),
    ("boolq", "acc"): (0.6391, 0.6251, 0.6193, 0.6220),
}


def neuron_selection(arch) -> pd.DataFrame:
    rows = []
    for (task, metric), (base, *pruned) in NEURON_SELECTION.items():
        rows.append(row("llama-3.2-1b", 0, task, metric, "none", base, variant="fp16", arch=arch))
        for crit, v in zip(("maw", "vow", "pon"), pruned, strict=True):
            rows.append(row("llama-3.2-1b", 10, task, metric, "none", v, criterion=crit,
                            variant="fp16", arch=arch))
    return pd.DataFrame(rows, columns=list(COLUMNS))


def main(src: str, dst: str) -> None:
    src_p, dst_p = Path(src), Path(dst)
    arch = widths(src_p)
    write_csv(scores(src_p, "llama_1b_results_latest.csv", "llama-3.2-1b", arch), dst_p / "llama-3.2-1b.csv")
    write_csv(scores(src_p, "llama_3b_results_latest.csv", "llama-3.2-3b", arch), dst_p / "llama-3.2-3b.csv")
    write_csv(scores(src_p, "llama_1b_I_results_latest.csv", "llama-3.2-1b-instruct", arch),
              dst_p / "llama-3.2-1b-instruct.csv")
    write_csv(neuron_selection(arch), dst_p / "neuron-selection.csv")
    write_csv(efficiency(src_p, arch), dst_p / "efficiency.csv")
    write_csv(shots(src_p, arch), dst_p / "shots.csv")


if __name__ == "__main__":
    main(*sys.argv[1:3])
