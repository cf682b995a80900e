"""Tiny random models and a tiny tokenizer, built in code in well under a second.

Tests and offline demos use them: nothing is downloaded. `toy_model("llama")` gives a
2-layer LlamaForCausalLM with hidden 32 and a GLU width of 96; other GLU families and two
non-GLU shapes ("gpt2", and "phi3" with its fused gate_up_proj) are there to test the refusals.
"""

from __future__ import annotations

import functools

import torch

TOY_TEXT = (
    "The quick brown fox jumps over the lazy dog. A pruned model keeps the most important "
    "neurons of every layer and drops the rest. Width pruning shrinks the expansion ratio of "
    "the gated linear unit. Knowledge is fragile while instruction following may be robust. "
    "Paris is the capital of France. Rome is the capital of Italy. One two three four five six "
    "seven eight nine ten. Questions and answers, true or false, yes or no. "
)

# family -> (config class name, extra config kwargs)
GLU_FAMILIES: dict[str, tuple[str, dict]] = {
    "llama": ("LlamaConfig", {}),
    "mistral": ("MistralConfig", {"sliding_window": None}),
    "qwen2": ("Qwen2Config", {}),
    "qwen3": ("Qwen3Config", {"head_dim": 8}),
    "gemma": ("GemmaConfig", {"head_dim": 8}),
    "gemma2": ("Gemma2Config", {"head_dim": 8, "query_pre_attn_scalar": 8}),
    "olmo2": ("Olmo2Config", {}),
    "granite": ("GraniteConfig", {}),
}


@functools.cache
def toy_tokenizer():
    """A byte-level BPE tokenizer trained on a few sentences, with bos/eos/pad/unk tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=320, special_tokens=["<pad>", "<s>", "</s>", "<unk>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator([TOY_TEXT] * 4, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",
                                   pad_token="<pad>", unk_token="<unk>",
                                   model_input_names=["input_ids", "attention_mask"])
    fast.model_max_length = 256
    return fast


def toy_config(family: str = "llama", *, hidden: int = 32, intermediate: int = 96, layers: int = 2,
               vocab: int | None = None):
    import transformers

    vocab = vocab or len(toy_tokenizer())
    tok = toy_tokenizer()
    common = dict(vocab_size=vocab, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                  pad_token_id=tok.pad_token_id)
    if family == "gpt2":
        return transformers.GPT2Config(n_embd=hidden, n_layer=layers, n_head=4, n_positions=256,
                                       **common)
    if family == "phi3":
        return transformers.Phi3Config(hidden_size=hidden, intermediate_size=intermediate,
                                       num_hidden_layers=layers, num_attention_heads=4,
                                       num_key_value_heads=2, max_position_embeddings=256, **common)
    cls_name, extra = GLU_FAMILIES[family]
    cls = getattr(transformers, cls_name)
    return cls(hidden_size=hidden, intermediate_size=intermediate, num_hidden_layers=layers,
               num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
               **common, **extra)


def toy_model(family: str = "llama", *, seed: int = 0, dtype: torch.dtype = torch.float32, **shape):
    """A random causal LM of `family` in eval mode, deterministic for a given seed."""
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(toy_config(family, **shape), dtype=dtype)
    return model.eval()


def save_toy(folder, family: str = "llama", **kwargs):
    """toy_model(family, **kwargs) and the toy tokenizer saved as a model folder any stage loads
    (as save_pretrained writes it); returns the folder."""
    toy_model(family, **kwargs).save_pretrained(folder)
    toy_tokenizer().save_pretrained(folder)
    return folder
