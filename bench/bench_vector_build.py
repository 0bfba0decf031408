"""Vector-building throughput vs plain forward passes over the same sequences, side by side in one run.

The baseline runs `model(input_ids, attention_mask)` over exactly the sequences a builder reads, in the
same batches (same padding); a second baseline asks the model for the last position's logits only
(`logits_to_keep=1`), the cheapest forward pass there is. Builders read every layer. Prints the median
wall time of each and the throughput ratio (baseline time / builder time; target >= 0.9).

Uses CAA's sycophancy set from ../shared/data when present (with a BPE tokenizer trained on it), else the
demo world's sycophancy task; the model is a random Llama of the given size.

    python bench/bench_vector_build.py [--items 120] [--layers 6] [--hidden 256] [--batch-size 16] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import torch
import transformers
from tiny import bpe_tokenizer

from steer_eval.tasks import load_split
from steer_eval.vectors.build import BuildSpec, build_vector, pair_batches, prepare_items
from steer_eval.vectors.capture import pad_right
from steer_eval.vectors.choices import choice_tokens

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def setup(args) -> tuple:
    if DATA.is_dir():
        task, items = "caa_sycophancy", load_split("caa_sycophancy", "train", DATA)
        tokenizer = bpe_tokenizer([it.prompt + "".join(it.continuations) for it in items], vocab_size=4000)
    else:
        from steer_eval.demo.cache import demo_model_dir

        task, items = "demo_sycophancy", load_split("demo_sycophancy", "train")
        tokenizer = transformers.AutoTokenizer.from_pretrained(demo_model_dir())
    config = transformers.LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=args.hidden,
        intermediate_size=args.hidden * 4,
        num_hidden_layers=args.layers,
        num_attention_heads=max(args.hidden // 64, 1),
        num_key_value_heads=max(args.hidden // 64, 1),
        max_position_embeddings=2048,
        pad_token_id=0,
    )
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_config(config).eval()
    return task, items, tokenizer, model


def plain(model, sequences, batch_size, keep_last: bool) -> None:
    extra = {"logits_to_keep": 1} if keep_last else {}
    with torch.no_grad():
        for start in range(0, len(sequences), batch_size):
            input_ids, attention_mask, _ = pad_right(sequences[start : start + batch_size], 0)
            model(input_ids=input_ids, attention_mask=attention_mask, **extra)


def timed(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=120)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    task, items, tokenizer, model = setup(args)
    layers = list(range(args.layers))
    spec = BuildSpec("caa", task, layers=layers, max_items=args.items, batch_size=args.batch_size)
    used = prepare_items(items, spec)
    tokens = [choice_tokens(tokenizer, it) for it in used]
    pairs = [
        (t.answer_sequence(it.target), t.answer_sequence(o))
        for it, t in zip(used, tokens, strict=True)
        for o in it.others
    ]
    pair_sequences, pair_batch = pair_batches(pairs, args.batch_size)
    prompts = [t.context for t in tokens]
    n_tokens = sum(len(s) for s in pair_sequences)
    print(
        f"task {task}: {len(used)} items, {len(pair_sequences)} pair sequences, {n_tokens} tokens; "
        f"random Llama {args.layers} layers x {args.hidden}, vocab {len(tokenizer)}; {torch.get_num_threads()} threads"
    )

    rows = []
    for method, sequences, batch in (
        ("caa", pair_sequences, pair_batch),
        ("austeer", pair_sequences, pair_batch),
        ("pasf", prompts, args.batch_size),
    ):
        method_spec = BuildSpec(method, task, layers=layers, max_items=args.items, batch_size=args.batch_size, top_k=50)
        base = timed(lambda s=sequences, b=batch: plain(model, s, b, False), args.repeats)
        base_last = timed(lambda s=sequences, b=batch: plain(model, s, b, True), args.repeats)
        try:
            built = timed(lambda m=method_spec: build_vector(model, tokenizer, m, items), args.repeats)
        except Exception as exc:  # e.g. PASf when a random model answers every item the same way
            print(f"{method}: skipped ({exc})")
            continue
        rows.append((method, base, base_last, built))
    print(f"\n{'method':<9} {'plain fwd':>10} {'fwd, last logits':>17} {'build':>8}", end="")
    print(f" {'ratio vs plain':>15} {'vs last-logits':>15}")
    for method, base, base_last, built in rows:
        print(f"{method:<9} {base:>9.3f}s {base_last:>16.3f}s {built:>7.3f}s", end="")
        print(f" {base / built:>15.2f} {base_last / built:>15.2f}")
    print(
        "\nratio = baseline time / build time (throughput of building relative to plain forward passes; target >= 0.9)"
    )


if __name__ == "__main__":
    main()
