"""Tiny random models standing in for the paper's gated weights, under the paper's names.

Each is written into a Hugging Face hub cache exactly where `from_pretrained(hf_id,
revision=<models.yaml's pinned revision>)` looks offline (models--<org>--<name>/snapshots/<sha>),
so every stage loads it through the same code as the real weights. What they share with the
real models: the architecture (LlamaForCausalLM, GQA, SiLU GLU MLP, RMSNorm, llama3 RoPE
scaling), tied input and output embeddings (as Llama-3.2-1B and 3B), the config's context length
(max_position_embeddings 131072, which sets lm-eval's max_length), the width ratios (the 1B's
MLP is 4x its hidden size, the 3B's 2.67x), Llama-3's special tokens, a BOS added by the
tokenizer, no pad token, and generation_config.json's sampling defaults; the Instruct one has a
Llama-3-style chat template and stops at <|eot_id|>. What they do not share: size (hidden 64 or
96, 2 or 3 layers) and weights: seeded random, then 200 steps of training on the
stand-in text, one sentence per document followed by the end-of-text token, whose embedding is
then nudged (`nudge_end`) so that greedy generation stops within a sentence at every pruning
level, as a trained model's does (a random model babbles to the token limit: IFEval's 1280
tokens per prompt would take most of the rehearsal's time). Every score is noise.
"""

from __future__ import annotations

import json
from pathlib import Path

from repro.config.rehearsal import rehearsal_config

BOS, EOS, EOT = "<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"
SPECIAL = [BOS, EOS, "<|start_header_id|>", "<|end_header_id|>", EOT]
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}<|start_header_id|>{{ message['role'] }}"
    "<|end_header_id|>\n\n{{ message['content'] | trim }}<|eot_id|>{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}")


def tokenizer(text: str, instruct: bool):
    """A byte-level BPE trained on the stand-in text, with Llama-3's special tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=rehearsal_config().vocab_size, special_tokens=SPECIAL,
                                  show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([text], trainer)
    bos_id = tok.token_to_id(BOS)
    tok.post_processor = processors.TemplateProcessing(  # Llama-3's: BOS before every text
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, bos_id)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS,
                                   eos_token=EOT if instruct else EOS,
                                   model_input_names=["input_ids", "attention_mask"])
    fast.model_max_length = 131072
    if instruct:
        fast.chat_template = CHAT_TEMPLATE
    return fast


def train(model, tok, docs: list[str], eos: int, steps: int = 200, seq: int = 48):
    """A few hundred AdamW steps on the documents, each followed by `eos` (one thread, seeded:
    the same weights on every machine of the same torch)."""
    import torch

    ids = []
    for d in docs:
        ids += tok(d, add_special_tokens=False)["input_ids"] + [eos]
    data = torch.tensor(ids[: len(ids) // seq * seq]).view(-1, seq)
    g = torch.Generator().manual_seed(0)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model.train()
        for _ in range(steps):
            batch = data[torch.randint(len(data), (16,), generator=g)]
            loss = model(input_ids=batch, labels=batch).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
    finally:
        torch.set_num_threads(threads)
    return model


def nudge_end(model, tok, docs: list[str], stop: int) -> None:
    """The end token's (tied) embedding moved toward the full stop's and toward the mean
    direction of the model's last hidden states: a full stop then predicts the end, and a
    pruned model that lost its sentences still stops within a few tokens (measured on the
    IFEval stand-ins: at most 7 new tokens at 0, 40, 50 and 60%, where it babbled to the
    token limit without)."""
    import torch

    with torch.no_grad():
        emb = model.get_input_embeddings().weight
        scale = emb.norm(dim=1).mean()
        dot = emb[tok.convert_tokens_to_ids(".")].clone()
        ids = tok(" ".join(docs[:200]), return_tensors="pt")["input_ids"][:, :1024]
        mean = model.model(ids).last_hidden_state[0].mean(0)
        emb[stop] += 0.5 * dot / dot.norm() * scale + 0.6 * mean / mean.norm() * scale


def write_model(folder: Path, name: str, docs: list[str]) -> Path:
    """The tiny model of `name` (repro/config/rehearsal.yaml) and its tokenizer, saved as the
    Hub repository holds them."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    m = rehearsal_config().models[name]
    hidden, inter, layers = m.hidden_size, m.intermediate_size, m.num_hidden_layers
    heads, kv, seed = m.num_attention_heads, m.num_key_value_heads, m.seed
    instruct = name.endswith("instruct")
    tok = tokenizer("\n".join(docs), instruct)
    eos = [tok.convert_tokens_to_ids(t) for t in (EOS, EOT)] if instruct else \
        tok.convert_tokens_to_ids(EOS)
    cfg = LlamaConfig(
        vocab_size=len(tok), hidden_size=hidden, intermediate_size=inter,
        num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv,
        head_dim=hidden // heads, max_position_embeddings=131072, rms_norm_eps=1e-5,
        rope_theta=500000.0, tie_word_embeddings=True, hidden_act="silu",
        rope_scaling={"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                      "original_max_position_embeddings": 8192, "rope_type": "llama3"},
        bos_token_id=tok.bos_token_id, eos_token_id=eos, torch_dtype="bfloat16")
    torch.manual_seed(seed)
    stop = eos[-1] if instruct else eos
    model = train(LlamaForCausalLM(cfg), tok, docs, stop)
    nudge_end(model.eval(), tok, docs, stop)
    model = model.to(torch.bfloat16)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    # Llama-3.2's generation defaults (sampling): a stage that means greedy must say so
    gen = {"bos_token_id": tok.bos_token_id, "eos_token_id": eos, "do_sample": True,
           "temperature": 0.6, "top_p": 0.9}
    (folder / "generation_config.json").write_text(json.dumps(gen, indent=2) + "\n")
    return folder


def write_hub_cache(hub_cache: Path, specs, docs: list[str]) -> dict[str, Path]:
    """Every spec's tiny model where the hub client looks for its pinned revision offline."""
    out = {}
    for spec in specs:
        repo = hub_cache / ("models--" + spec.hf_id.replace("/", "--"))
        snapshot = write_model(repo / "snapshots" / spec.revision, spec.name, docs)
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / "main").write_text(spec.revision)
        out[spec.name] = snapshot
    return out
