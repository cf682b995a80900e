"""Stand-in documents for the datasets of the paper's 13 tasks, in each dataset's real schema
(column names and feature types, as the Hub's parquet files declare them) and real splits
(few-shot splits included), written as local dataset folders named like the Hub ids:

    <root>/gsm8k/README.md             # a `configs:` block, as on the Hub
    <root>/gsm8k/main/test-00000-of-00001.parquet

datasets 3.6 loads a local folder before asking the Hub, so with <root> as the working directory
`load_dataset("gsm8k", "main")` (what lm-eval 0.4.9.1's gsm8k task calls) reads these. The text
is made up from a small word list and numbers, deterministic, and only as long as the pipeline
needs: the numbers computed from it mean nothing. Sizes: a few documents per split, enough for
each task's few-shot examples (mmlu's dev 5, gsm8k's train 5) and for the efficiency stage's
quick workloads (16 prompts each from hellaswag's validation, mmlu's `all` test, IFEval's train).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

WORDS = ("the river city stone light garden north winter market bridge paper music small old "
         "green quiet teacher doctor engine window history science number seven eleven morning "
         "village ocean forest animal question answer people travel water mountain").split()

Row = dict


def _words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _sentence(rng: random.Random, n: int = 9) -> str:
    return _words(rng, n).capitalize() + "."


def _value(dtype: str) -> dict:
    return {"dtype": dtype, "_type": "Value"}


def _seq(inner) -> dict:
    return {"feature": inner, "_type": "Sequence"}


S, I64, I32 = _value("string"), _value("int64"), _value("int32")
LABELS = {"names": ["0", "1"], "_type": "ClassLabel"}

IFEVAL_KWARGS = {k: (I64 if k.startswith(("num_", "capital_frequency", "let_frequency",
                                            "frequency", "nth_")) else S)
                 for k in ("num_highlights", "relation", "num_words", "num_placeholders",
                           "prompt_to_repeat", "num_bullets", "section_spliter", "num_sections",
                           "capital_relation", "capital_frequency", "keywords", "num_paragraphs",
                           "language", "let_relation", "letter", "let_frequency", "end_phrase",
                           "forbidden_words", "keyword", "frequency", "num_sentences",
                           "postscript_marker", "first_word", "nth_paragraph")}
IFEVAL_KWARGS["keywords"] = IFEVAL_KWARGS["forbidden_words"] = _seq(S)
# instructions of lm-eval's IFEval registry with the arguments each takes (others stay null)
IFEVAL_INSTRUCTIONS = (
    ("punctuation:no_comma", {}),
    ("change_case:english_lowercase", {}),
    ("detectable_format:number_bullet_lists", {"num_bullets": 2}),
    ("length_constraints:number_words", {"relation": "at least", "num_words": 5}),
    ("keywords:existence", {"keywords": ["river", "garden"]}),
    ("startend:end_checker", {"end_phrase": "Is there anything else?"}),
)


def wikitext(rng, i, split):
    return {"page": f" = {_words(rng, 2).title()} = \n\n " + " ".join(
        _sentence(rng, 12) for _ in range(6)) + " \n"}


def lambada(rng, i, split):
    return {"text": " ".join(_sentence(rng) for _ in range(3)) + " " + rng.choice(WORDS)}


def mmlu(subject: str):
    def row(rng, i, split):
        return {"question": _sentence(rng, 8)[:-1] + "?", "subject": subject,
                "choices": [_words(rng, 2) for _ in range(4)], "answer": rng.randrange(4)}
    return row


def arc(rng, i, split):
    labels = ["A", "B", "C", "D"]
    return {"id": f"Mercury_{split}_{i}", "question": _sentence(rng, 8)[:-1] + "?",
            "choices": {"text": [_words(rng, 3) for _ in labels], "label": labels},
            "answerKey": rng.choice(labels)}


def hellaswag(rng, i, split):
    return {"ind": i, "activity_label": _words(rng, 2).title(), "ctx_a": _sentence(rng, 10),
            "ctx_b": _words(rng, 3), "ctx": _sentence(rng, 13),
            "endings": [_sentence(rng, 6) for _ in range(4)], "source_id": f"activitynet~v_{i}",
            "split": split, "split_type": "indomain",
            "label": "" if split == "test" else str(rng.randrange(4))}


def winogrande(rng, i, split):
    return {"sentence": f"{_words(rng, 4).capitalize()} _ {_words(rng, 5)}.",
            "option1": rng.choice(WORDS), "option2": rng.choice(WORDS),
            "answer": "" if split == "test" else rng.choice(["1", "2"])}


def piqa(rng, i, split):
    return {"goal": _sentence(rng, 7), "sol1": _sentence(rng, 8), "sol2": _sentence(rng, 8),
            "label": -1 if split == "test" else rng.randrange(2)}


def boolq(rng, i, split):
    return {"question": _words(rng, 6), "passage": " ".join(_sentence(rng) for _ in range(3)),
            "idx": i, "label": -1 if split == "test" else rng.randrange(2)}


def truthfulqa(rng, i, split):
    # the true answers first, as in the real dataset, and shorter than the false ones (a tiny
    # model's summed log-likelihood then often prefers them: MC1 is not 0 at 0%)
    def targets(n_true, n):
        return {"choices": [_sentence(rng, 3 if k < n_true else 7) for k in range(n)],
                "labels": [1] * n_true + [0] * (n - n_true)}
    return {"question": _sentence(rng, 7)[:-1] + "?", "mc1_targets": targets(1, 4),
            "mc2_targets": targets(2, 4)}


def gsm8k(rng, i, split):
    # every answer is 12: the tiny models learn to say it, so exact match is not 0 at 0% (a
    # relative change from a zero baseline is undefined, and the claims about it not judged)
    a = rng.randrange(2, 11)
    return {"question": f"A market has {a} {rng.choice(WORDS)}s and gets {12 - a} more. How many now?",
            "answer": f"It has {a} + {12 - a} = <<{a}+{12 - a}=12>>12.\n#### 12"}


def ifeval(rng, i, split):
    ids, kwargs = [], []
    # every third prompt asks only for no commas, which a short answer meets: IFEval's scores
    # are then not 0 at 0% (a relative change from 0 is undefined, its claims not judged)
    chosen = IFEVAL_INSTRUCTIONS[:1] if i % 3 == 0 else rng.sample(IFEVAL_INSTRUCTIONS[1:], 2)
    for name, args in chosen:
        ids.append(name)
        kwargs.append({k: args.get(k) for k in IFEVAL_KWARGS})
    # a prompt that does not end a sentence: the tiny models answer it with one (IFEval counts
    # an empty response as following no instruction)
    return {"key": 1000 + i, "prompt": f"Write about the {rng.choice(WORDS)} {_words(rng, 4)}:",
            "instruction_id_list": ids, "kwargs": kwargs}


def musr(rng, i, split):
    choices = [_words(rng, 2) for _ in range(3 if split != "team_allocation" else 3)]
    k = rng.randrange(len(choices))
    return {"narrative": " ".join(_sentence(rng, 12) for _ in range(5)),
            "question": _sentence(rng, 8)[:-1] + "?", "choices": repr(choices),
            "answer_index": k, "answer_choice": choices[k]}


class Dataset:
    """One Hub dataset: its configs, each with its splits (name -> rows) and features."""

    def __init__(self, path: str, features: dict, splits: dict[str, int],
                 row: Callable, configs: tuple[str | None, ...] = (None,)):
        self.path, self.features, self.splits, self.row, self.configs = \
            path, features, splits, row, configs


def mmlu_subjects() -> list[str]:
    """The 57 subjects, from lm-eval's own mmlu task files (each names its dataset config)."""
    import lm_eval.tasks
    import yaml

    folder = Path(lm_eval.tasks.__file__).parent / "mmlu" / "default"
    names = []
    for f in sorted(folder.glob("mmlu_*.yaml")):
        cfg = yaml.safe_load(f.read_text(encoding="utf-8").replace("!function", ""))
        if isinstance(cfg, dict) and cfg.get("dataset_name"):
            names.append(cfg["dataset_name"])
    return sorted(set(names))


def catalogue() -> list[Dataset]:
    """The datasets of lm-eval 0.4.9.1's paper tasks, with their real schemas and splits."""
    ch = {"names": ["A", "B", "C", "D"], "_type": "ClassLabel"}
    targets = {"choices": _seq(S), "labels": _seq(I32)}
    mmlu_f = {"question": S, "subject": S, "choices": _seq(S), "answer": ch}
    three = {"train": 3, "validation": 6, "test": 3}
    out = [
        Dataset("EleutherAI/wikitext_document_level", {"page": S},
                {"train": 2, "validation": 2, "test": 3}, wikitext,
                ("wikitext-2-raw-v1",)),
        Dataset("EleutherAI/lambada_openai", {"text": S}, {"test": 8}, lambada, ("default",)),
        Dataset("allenai/ai2_arc", {"id": S, "question": S, "choices": {"text": _seq(S), "label": _seq(S)},
                                    "answerKey": S}, {"train": 3, "validation": 3, "test": 6},
                arc, ("ARC-Challenge", "ARC-Easy")),
        Dataset("Rowan/hellaswag", {"ind": I32, "activity_label": S, "ctx_a": S, "ctx_b": S,
                                    "ctx": S, "endings": _seq(S), "source_id": S, "split": S,
                                    "split_type": S, "label": S},
                {"train": 3, "validation": 16, "test": 3}, hellaswag),
        Dataset("winogrande", {"sentence": S, "option1": S, "option2": S, "answer": S},
                three, winogrande, ("winogrande_xl",)),
        Dataset("baber/piqa", {"goal": S, "sol1": S, "sol2": S, "label": I64}, three, piqa),
        Dataset("super_glue", {"question": S, "passage": S, "idx": I32,
                               "label": {"names": ["False", "True"], "_type": "ClassLabel"}},
                three, boolq, ("boolq",)),
        Dataset("truthful_qa", {"question": S, "mc1_targets": targets, "mc2_targets": targets},
                {"validation": 12}, truthfulqa, ("multiple_choice",)),
        Dataset("gsm8k", {"question": S, "answer": S}, {"train": 6, "test": 4}, gsm8k, ("main",)),
        Dataset("google/IFEval", {"key": I64, "prompt": S, "instruction_id_list": _seq(S),
                                  "kwargs": [IFEVAL_KWARGS]}, {"train": 16}, ifeval),
        Dataset("TAUR-Lab/MuSR", {"narrative": S, "question": S, "choices": S,
                                  "answer_index": I64, "answer_choice": S},
                {"murder_mysteries": 3, "object_placements": 3, "team_allocation": 3}, musr),
    ]
    for subject in mmlu_subjects():
        out.append(Dataset("cais/mmlu", mmlu_f, {"test": 1, "validation": 1, "dev": 5},
                           mmlu(subject), (subject,)))
    out.append(Dataset("cais/mmlu", mmlu_f, {"test": 57, "validation": 57, "dev": 285},
                       mmlu("all"), ("all",)))  # the efficiency stage's prompts (efficiency.yaml)
    return out


def corpus(per_dataset: int = 12) -> list[str]:
    """Short documents in the stand-ins' style, one sentence each (their rows' text fields),
    for the tiny models' tokenizer and their brief training (repro/rehearsal/models.py)."""
    docs = []
    for ds in catalogue()[:12]:  # one of each kind (the mmlu subjects are alike)
        rng = random.Random(f"corpus/{ds.path}")
        for i in range(per_dataset):
            row = ds.row(rng, i, next(iter(ds.splits)))
            text = " ".join(_flat(v) for k, v in row.items()  # text, not ids or labels
                            if k not in ("id", "key", "kwargs", "instruction_id_list", "answerKey"))
            docs += [s.strip() + "." for s in text.split(". ") if s.strip()]
    rng = random.Random("corpus/gsm8k-prompts")  # as lm-eval's gsm8k asks and is answered
    docs += ["Question: {question}\nAnswer: {answer}".format(**gsm8k(rng, i, "train"))
             for i in range(3 * per_dataset)]
    return docs


def _flat(value) -> str:
    if isinstance(value, dict):  # arc's choices: their text, not their labels A B C D
        return " ".join(_flat(v) for k, v in value.items() if k not in ("label", "labels"))
    if isinstance(value, list):
        return " ".join(_flat(v) for v in value)
    return str(value)


def _readme(entries: list[tuple[str | None, list[str]]]) -> str:
    lines = ["---", "configs:"]
    for config, splits in entries:
        folder = config or "data"
        lines.append(f"- config_name: {config or 'default'}")
        lines.append("  data_files:")
        for split in splits:
            lines += [f"  - split: {split}", f"    path: {folder}/{split}-*"]
    lines += ["---", "", "Stand-in documents written by the repro kit's rehearsal: made-up text "
              "in this dataset's schema, NOT the real dataset.", ""]
    return "\n".join(lines)


def write_all(root: Path) -> list[str]:
    """Write every dataset folder under root; returns the dataset ids written."""
    import datasets

    datasets.disable_progress_bars()
    by_path: dict[str, list[tuple[str | None, list[str]]]] = {}
    for ds in catalogue():
        features = datasets.Features.from_dict(ds.features)
        for config in ds.configs:
            rng = random.Random(f"{ds.path}/{config}")
            for split, n in ds.splits.items():
                rows = [ds.row(rng, i, split) for i in range(n)]
                target = root / ds.path / (config or "data") / f"{split}-00000-of-00001.parquet"
                target.parent.mkdir(parents=True, exist_ok=True)
                datasets.Dataset.from_list(rows, features=features).to_parquet(str(target))
            by_path.setdefault(ds.path, []).append((config, list(ds.splits)))
    for path, entries in by_path.items():
        (root / path / "README.md").write_text(_readme(entries), encoding="utf-8")
    return sorted(by_path)
