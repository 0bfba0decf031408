"""Overhead of steered vs unsteered log-likelihood scoring, measured side by side in one run.

Compares lm-eval's plain `hf` model with steer-eval's `SteerEvalLM` (no vector, a vector at all positions,
a vector at the last prompt token only) and lm-eval's own `steered` model, on the same requests and the
same in-memory weights. Prints the median wall time of each and its ratio to `hf`.

    python bench/bench_steering_overhead.py [--layers 4] [--hidden 256] [--requests 400] [--repeats 7]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import torch
import transformers
from lm_eval.api.instance import Instance
from lm_eval.models.hf_steered import SteeredModel
from lm_eval.models.huggingface import HFLM
from tiny import WORDS, tiny_tokenizer

from steer_eval.steering.interventions import Intervention
from steer_eval.steering.lm_model import SteerEvalLM
from steer_eval.vectors.format import SiteKey, SteeringVector
from steer_eval.vectors.lmeval_pt import write_lmeval_pt
from steer_eval.vocab import PositionMode, Site


def build_model(layers: int, hidden: int) -> tuple[torch.nn.Module, object]:
    tokenizer = tiny_tokenizer()
    config = transformers.LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 4,
        num_hidden_layers=layers,
        num_attention_heads=max(hidden // 64, 1),
        num_key_value_heads=max(hidden // 64, 1),
        max_position_embeddings=512,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
    )
    torch.manual_seed(0)
    return transformers.AutoModelForCausalLM.from_config(config).eval(), tokenizer


def build_requests(n: int) -> list[Instance]:
    rng = random.Random(0)
    words = [w for w in WORDS if w.strip()]
    requests = []
    for i in range(n):
        context = " ".join(rng.choice(words) for _ in range(rng.randint(20, 80))) + " answer :"
        requests.append(Instance("loglikelihood", {}, (context, " " + rng.choice(["A", "B", "C", "D"])), i))
    return requests


def timed(lm: object, requests: list[Instance]) -> float:
    start = time.perf_counter()
    lm.loglikelihood(requests, disable_tqdm=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))

    model, tokenizer = build_model(args.layers, args.hidden)
    requests = build_requests(args.requests)
    layer = args.layers // 2
    vector = torch.randn(args.hidden, generator=torch.Generator().manual_seed(1))
    common = {"pretrained": model, "tokenizer": tokenizer, "device": "cpu", "batch_size": args.batch_size}

    with tempfile.TemporaryDirectory() as tmp:
        pt = Path(tmp) / "v.pt"
        steer_eval_lm = SteerEvalLM(**common)
        write_lmeval_pt(
            SteeringVector({SiteKey(Site.RESID, layer): vector}), pt, steer_eval_lm.steerer.model_map.hookpoint
        )
        variants = {
            "lm-eval hf (unsteered)": (HFLM(**common), None),
            "steer-eval, no vector": (steer_eval_lm, []),
            "steer-eval, add, all positions": (steer_eval_lm, [Intervention(SiteKey(Site.RESID, layer), vector)]),
            "steer-eval, add, last prompt token": (
                steer_eval_lm,
                [Intervention(SiteKey(Site.RESID, layer), vector, positions=PositionMode.LAST_PROMPT)],
            ),
            "lm-eval steered, add, all positions": (SteeredModel(steer_path=str(pt), **common), None),
        }
        times: dict[str, list[float]] = {name: [] for name in variants}
        for lm, interventions in variants.values():  # warm-up
            if interventions is not None:
                lm.set_interventions(interventions)
            timed(lm, requests[:32])
        for _ in range(args.repeats):  # interleaved, so drift hits every variant alike
            for name, (lm, interventions) in variants.items():
                if interventions is not None:
                    lm.set_interventions(interventions)
                times[name].append(timed(lm, requests))

    base = statistics.median(times["lm-eval hf (unsteered)"])
    print(
        f"model: Llama {args.layers} layers, hidden {args.hidden}; {args.requests} requests, batch {args.batch_size}; "
        f"{args.repeats} repeats; torch {torch.__version__}, {os.cpu_count()} CPU threads"
    )
    print(f"{'variant':<40} {'median s':>9} {'ratio to hf':>12}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<40} {median:>9.3f} {median / base:>12.3f}")


if __name__ == "__main__":
    main()
