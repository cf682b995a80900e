"""The one place an evaluation cell's lm-eval model (HFLM) is built, and the one rule that says
whether a cell computed earlier still holds.

    lm = build(model, tokenizer, batch_size="1", max_length=131072, max_batch_size=64)
    effective(lm)     # what this HFLM will do: batch size, max_length, BOS, truncation, dtype...
    recorded(record, BATCHED)   # an earlier cell's settings as a resume compares them

The defaults are the paper's effective settings (repro/config/evaluation.yaml says where each
comes from): batch size 1, max_length the model's own (models.yaml), no BOS before contexts,
no truncation. Every one is passed explicitly, so another lm-eval version cannot change it.
"""

from __future__ import annotations

from typing import Any

from repro.config.evaluation import evaluation
from repro.core import rehearsal
from repro.evaluate.batch import is_auto


def default_batch_size() -> str:
    """The run's batch size when --batch-size is not given (one place: evaluation.yaml)."""
    return evaluation().batch_size


def build(model, tokenizer, *, batch_size: str, max_length: int, max_batch_size: int):
    """The HFLM every cell runs on (the paper's notebook built `HFLM(pretrained=model,
    tokenizer=tokenizer, device=...)` and took HFLM's defaults: here they are explicit)."""
    from lm_eval.models.huggingface import HFLM

    cfg = evaluation()
    return HFLM(pretrained=model, tokenizer=tokenizer, max_length=max_length,
                batch_size=batch_size if is_auto(batch_size) else int(batch_size),
                max_batch_size=max_batch_size, add_bos_token=cfg.add_bos_token,
                truncation=cfg.truncation)


def _name(dtype) -> str | None:
    return None if dtype is None else str(dtype).removeprefix("torch.")


def own_max_length(lm) -> int:
    """The max_length this HFLM would take by itself (its rule: the model config's
    n_positions, max_position_embeddings or n_ctx, then the tokenizer's, then 2048)."""
    given, lm._max_length = lm._max_length, None
    try:
        return int(lm.max_length)
    finally:
        lm._max_length = given


def effective(lm) -> dict[str, Any]:
    """The settings an HFLM will evaluate with, read back from the object (what a cell records)."""
    return {"batch_size": str(lm.batch_size), "batch_schedule": float(lm.batch_schedule),
            "max_batch_size": lm.max_batch_size, "max_length": int(lm.max_length),
            "model_max_length": own_max_length(lm),
            "add_bos_token": bool(lm.add_bos_token), "truncation": bool(lm.truncation),
            "dtype": _name(lm.model.dtype), "softmax_dtype": _name(lm.softmax_dtype),
            "mixed_precision_dtype": _name(lm.mixed_precision_dtype),
            "max_gen_toks": int(lm.max_gen_toks), "logits_cache": bool(lm.logits_cache),
            "prefix_token_id": lm.prefix_token_id, "padding_side": lm.tokenizer.padding_side,
            "device": str(lm.device), "backend": lm.backend}


# ---- cells computed by an earlier kit: what each setting it does not record implicitly was ----

def _version(text: str | None) -> tuple[int, ...] | None:
    parts = [p for p in (text or "").split(".") if p.isdigit()]
    return tuple(int(p) for p in parts) if parts else None


def implied(old: dict, provenance: dict, key: str) -> Any:
    """The value a setting had in a cell that does not record it; None when it cannot be known
    (the cell is then recomputed). Each rule says why."""
    # lm-eval's record of the run, else the lm-eval installed when the cell was written (a cell
    # the kit measured itself, as the sensitivity scan's calibration perplexity)
    lm_version = _version((provenance.get("lm_eval") or {}).get("version")
                          or (provenance.get("packages") or {}).get("lm_eval"))
    batch = provenance.get("batch_size")
    if key == "add_bos_token":  # lm-eval's default: False up to 0.4.9.1, the tokenizer's after (PR #3347)
        return False if lm_version is not None and lm_version <= (0, 4, 9, 1) else None
    if key == "truncation":     # HFLM's default in every lm-eval version the kit has run
        return False if lm_version is not None else None
    if key == "batch_size":     # recorded in the provenance before it became a cell setting
        if isinstance(batch, dict):
            return batch.get("requested")
        return None if batch is None else str(batch)
    if key == "max_batch_size":
        return batch.get("max_batch_size") if isinstance(batch, dict) else None
    return None


BATCHED = ("add_bos_token", "truncation", "batch_size", "max_batch_size")  # a cell per task
UNBATCHED = ("add_bos_token", "truncation")  # cells with no batch size of their own (sensitivity)


def recorded(record: dict, keys: tuple[str, ...]) -> Any:
    """An earlier cell's settings as the grid executor compares them with the asked ones (its
    one rule: equal, or the cell is recomputed). Each of `keys` the cell does not record takes
    the value it implicitly had (`implied`; unknown: left out, so the cell differs), so a kit
    upgrade that starts recording a setting keeps the cells computed with that value; and a
    rehearsal's cell (tiny random model) is never a real run's, nor the other way round."""
    old, prov = (record.get("payload") or {}).get("settings"), record.get("provenance") or {}
    if not isinstance(old, dict):
        return old
    have = dict(old)
    for key in keys:
        if key in have or (key == "max_batch_size" and not is_auto(str(have.get("batch_size")))):
            continue  # max_batch_size is a setting only where the batch size is "auto"
        value = implied(old, prov, key)
        if value is not None:
            have[key] = value
    if bool(prov.get("rehearsal")) != rehearsal.active():
        have["rehearsal"] = bool(prov.get("rehearsal"))
    return have
