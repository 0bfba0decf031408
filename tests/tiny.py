"""Tiny random models built from configs, and a word-level tokenizer, for tests: no hub, no downloads."""

from __future__ import annotations

from pathlib import Path

import torch
import transformers
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

# A small closed vocabulary; "\n" is a word too.
_WORD_TEXT = (
    "the a an of to and is was in on for with that this it he she they we you i not no yes "
    "good bad happy sad cat dog bird fish red blue green big small question answer choice "
    "A B C D true false maybe very more less first last one two three four five six seven eight nine ten "
    ": . , ? ! ( )"
)
WORDS = [*_WORD_TEXT.split(" "), "\n"]
SPECIALS = ["<pad>", "<s>", "</s>", "<unk>"]

COMMON = dict(vocab_size=len(SPECIALS) + len(set(WORDS)) + 4, max_position_embeddings=256)
DECODER = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2)
ARCH_CONFIGS: dict[str, dict] = {
    "llama": DECODER,
    "mistral": DECODER,
    "qwen2": DECODER,
    "qwen3": {**DECODER, "head_dim": 8},
    "gemma": {**DECODER, "head_dim": 8},
    "gemma2": {**DECODER, "head_dim": 8},
    "gpt2": dict(n_embd=32, n_layer=3, n_head=4, n_positions=256),
    "gpt_neox": dict(hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4),
    "phi": DECODER,
    "phi3": DECODER,
}


def tiny_model(arch: str = "llama", seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.nn.Module:
    torch.manual_seed(seed)
    params = {**COMMON, **ARCH_CONFIGS[arch], "pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2}
    if arch == "gpt2":
        params.pop("max_position_embeddings")
    config = transformers.CONFIG_MAPPING[arch](**params)
    return AutoModelForCausalLM.from_config(config, dtype=dtype).eval()


def tiny_tokenizer() -> PreTrainedTokenizerFast:
    vocab = {token: i for i, token in enumerate(SPECIALS)}
    for word in WORDS:
        vocab.setdefault(word, len(vocab))
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
    return PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="<pad>", bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )


def save_tiny(directory: Path, arch: str = "llama", seed: int = 0) -> Path:
    """A Hugging Face model directory (config, weights, tokenizer) that lm-eval's `hf` model loads."""
    tiny_model(arch, seed).save_pretrained(directory)
    tiny_tokenizer().save_pretrained(directory)
    return directory


def bpe_tokenizer(texts: list[str], vocab_size: int = 1500) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer (GPT-2 style) trained on `texts` in well under a second: real English
    data tokenizes the way it would for a real model, with a BOS token prepended."""
    from tokenizers import decoders, processors, trainers

    core = Tokenizer(models.BPE(unk_token=None))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<pad>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    core.train_from_iterator(texts, trainer)
    core.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", bos_token="<s>", eos_token="</s>")


def save_tiny_bpe(directory: Path, texts: list[str], arch: str = "llama", seed: int = 0) -> Path:
    """A tiny random model with a BPE tokenizer trained on `texts` (for tests on real benchmark data)."""
    tokenizer = bpe_tokenizer(texts)
    torch.manual_seed(seed)
    params = {**COMMON, **ARCH_CONFIGS[arch], "pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2}
    params.update(vocab_size=len(tokenizer), max_position_embeddings=1024)
    config = transformers.CONFIG_MAPPING[arch](**params)
    AutoModelForCausalLM.from_config(config).eval().save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def perturbed_demo(demo_dir: Path, folder: Path) -> Path:
    """The demo model with its weights a little perturbed: another model with the same vocabulary."""
    from transformers import AutoTokenizer

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(demo_dir)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.01 * torch.randn_like(parameter))
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(demo_dir).save_pretrained(folder)
    return folder
