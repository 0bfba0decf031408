"""A 5-strength steered generation sweep, measured side by side in one run against lm-eval's `steered` model
run once per strength on the same prompts (issue 17's speed target: ratio <= 0.35).

steer-eval announces the five strengths as one sweep and generates them together: each prompt of a batch is
repeated once per strength, each strength acting on its own rows, one `generate` call with the KV cache for
all five (steering/generation.py). lm-eval's `steered` model generates each strength on its own. Both use the
same batch size, greedy decoding, the same stop sequences and the same vector (all positions, as `steered`
steers: the headline ratio, texts compared); model loading is outside the timings. A second sweep steers only
the `generated` positions (the usual choice for free text), where the prompt's KV cache is computed once and
shared by all five strengths; lm-eval's `steered` has no position choice and does the same work either way.
At all positions the prompt's blocks below the steered one are shared (steering/prompt_cache.py); the
all-positions sweep is also timed without that sharing, to show what it saves.
Models: the demo model (4 layers, hidden 128) and a mid-size
Llama built from a config (12 layers, hidden 768, random weights, the demo's tokenizer), whose random
weights write until `max_gen_toks`.

    python bench/bench_generation.py                   # both models, about 5 min on 2 CPU cores
    python bench/bench_generation.py --models demo --repeats 5 --json out.json
    python bench/bench_generation.py --models mid --context 8     # 99-token prompts, about 15 min
    python bench/bench_generation.py --device cuda --dtype bfloat16 --json gpu.json   # on a GPU

On the lent GPU machine (no network, an image without lm-eval), `bench/device_wheels.sh` fetches here the
wheels it lacks, and its header gives the device command.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch

STRENGTHS = (-2.0, -1.0, 0.5, 1.0, 2.0)
MID = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12)


def model_dir(which: str, workdir: Path) -> Path:
    from steer_eval.demo.cache import demo_model_dir

    demo = demo_model_dir(progress=False)
    if which == "demo":
        return demo
    import transformers

    target = workdir / "mid"
    if not (target / "config.json").exists():
        tokenizer = transformers.AutoTokenizer.from_pretrained(demo)
        config = transformers.LlamaConfig(
            **MID, num_key_value_heads=12, vocab_size=len(tokenizer), max_position_embeddings=512,
            pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )  # fmt: skip
        torch.manual_seed(0)
        transformers.AutoModelForCausalLM.from_config(config).save_pretrained(target)
        tokenizer.save_pretrained(target)
    return target


def vector_files(directory: Path, workdir: Path, which: str):
    """A direction at block N/2 with a typical hidden-state norm, in our format and as one lm-eval `.pt`
    per strength (what `steered` reads)."""
    from steer_eval.demo.model import DemoRecipe
    from steer_eval.demo.run import planted_vector
    from steer_eval.steering.model_map import ModelMap
    from steer_eval.vectors.format import SiteKey, SteeringVector, VectorMeta
    from steer_eval.vectors.lmeval_pt import write_lmeval_pt
    from steer_eval.vocab import Site

    model_map = ModelMap.from_config_only(str(directory))
    if which == "demo":
        vector = planted_vector("mood", DemoRecipe())  # the world's own mood push: the texts really change
    else:
        direction = torch.randn(model_map.hidden_size, generator=torch.Generator().manual_seed(0))
        key = SiteKey(Site.RESID, model_map.n_layers // 2)
        vector = SteeringVector({key: direction / direction.norm() * 8}, VectorMeta(method="random"))
    pts = []
    for alpha in STRENGTHS:
        path = workdir / f"{which}_x{alpha:g}.pt"
        write_lmeval_pt(vector, path, model_map.hookpoint, alpha=alpha)
        pts.append(path)
    return vector, pts


def requests(n: int, max_gen_toks: int, context: int = 0) -> list:
    """n prompts of `demo_mood_gen`, each after `context` other prompts of it (a long conversation's history)."""
    from lm_eval.api.instance import Instance

    from steer_eval.tasks import load_split

    kwargs = {"until": ["user :", "note :"], "max_gen_toks": max_gen_toks, "do_sample": False}
    texts = [item.prompt for item in load_split("demo_mood_gen", "test")]
    prompts = [" ".join([*texts[i + 1 : i + 1 + context], texts[i]]) for i in range(n)]
    return [Instance("generate_until", {}, (prompt, kwargs), i) for i, prompt in enumerate(prompts)]


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def measure(which: str, args, workdir: Path) -> dict:
    from lm_eval.models.hf_steered import SteeredModel

    from steer_eval.steering.interventions import interventions_from_vector
    from steer_eval.steering.lm_model import SteerEvalLM
    from steer_eval.vocab import PositionMode

    directory = model_dir(which, workdir)
    vector, pts = vector_files(directory, workdir, which)
    reqs = requests(args.prompts, args.max_gen_toks, args.context)
    common = dict(pretrained=str(directory), device=args.device, batch_size=args.batch_size, dtype=args.dtype)
    ours = SteerEvalLM(**common)
    ours.quiet = True
    theirs = [SteeredModel(steer_path=str(pt), **common) for pt in pts]
    at_all = {a: interventions_from_vector(vector, alpha=a, positions=PositionMode.ALL) for a in STRENGTHS}
    at_generated = {a: interventions_from_vector(vector, alpha=a, positions=PositionMode.GENERATED) for a in STRENGTHS}

    def sweep(settings=at_all) -> dict:
        ours.plan_sweep(settings)
        out = {}
        for alpha in settings:
            ours.use_setting(alpha)
            out[alpha] = ours.generate_until(reqs, disable_tqdm=True)
        ours.end_sweep()
        return out

    def once_per_strength() -> dict:
        return {a: lm.generate_until(reqs, disable_tqdm=True) for a, lm in zip(STRENGTHS, theirs, strict=True)}

    def unshared() -> dict:  # the same sweep with every setting's rows encoding their prompt themselves
        ours.share_prompt_cache = False
        try:
            return sweep()
        finally:
            ours.share_prompt_cache = True

    sweep(), sweep(at_generated), unshared(), once_per_strength()  # warm-up
    times: dict[str, list[float]] = {"sweep": [], "generated": [], "steered": [], "unshared": []}
    agree = []
    for _ in range(args.repeats):  # interleaved, so drift hits all alike
        t_ours, texts_ours = timed(sweep)
        t_theirs, texts_theirs = timed(once_per_strength)
        times["generated"].append(timed(lambda: sweep(at_generated))[0])
        times["unshared"].append(timed(unshared)[0])
        times["sweep"].append(t_ours)
        times["steered"].append(t_theirs)
        same = sum(a == b for s in STRENGTHS for a, b in zip(texts_ours[s], texts_theirs[s], strict=True))
        agree.append(same / (len(STRENGTHS) * len(reqs)))
    sweep_s, steered_s = statistics.median(times["sweep"]), statistics.median(times["steered"])
    return {
        "prompts": len(reqs),
        "strengths": len(STRENGTHS),
        "batch_size": args.batch_size,
        "max_gen_toks": args.max_gen_toks,
        "prompt_tokens_max": max(len(ours.tok_encode(r.args[0])) for r in reqs),
        "sweep_s": sweep_s,
        "lmeval_steered_s": steered_s,
        "ratio_vs_lmeval_steered": sweep_s / steered_s,
        "sweep_without_prompt_sharing_s": statistics.median(times["unshared"]),
        "ratio_without_prompt_sharing": statistics.median(times["unshared"]) / steered_s,
        "sweep_generated_positions_s": statistics.median(times["generated"]),
        "ratio_generated_positions": statistics.median(times["generated"]) / steered_s,
        "texts_identical_share": min(agree),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="demo,mid", help="demo, mid or both (default)")
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--max-gen-toks", type=int, default=16)
    parser.add_argument("--context", type=int, default=0, help="other prompts before each prompt (longer prompts)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda: where decoding is memory-bound")
    parser.add_argument("--dtype", default="float32", help="float32 (default), bfloat16 or float16")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    results: dict = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch "
                                f"{torch.__version__}"}  # fmt: skip
    if args.device.startswith("cuda"):
        results["machine"] += f", {torch.cuda.get_device_name()}, {args.dtype}"
    with tempfile.TemporaryDirectory() as tmp:
        for which in args.models.split(","):
            result = measure(which, args, Path(tmp))
            results[which] = result
            print(
                f"{which}: 5-strength sweep {result['sweep_s']:.2f} s vs lm-eval steered once per strength "
                f"{result['lmeval_steered_s']:.2f} s: ratio {result['ratio_vs_lmeval_steered']:.2f} (target <= 0.35); "
                f"identical texts {result['texts_identical_share']:.0%}; steering only generated positions (shared "
                f"prompt cache): ratio {result['ratio_generated_positions']:.2f}; all positions without sharing the "
                f"prompt's lower blocks: ratio {result['ratio_without_prompt_sharing']:.2f}"
            )
    # the headline figure: the demo model's (the mid model's random weights make every text max length)
    headline = results.get("demo", results.get("mid"))
    results["ratio_vs_lmeval_steered"] = headline["ratio_vs_lmeval_steered"]
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    sys.exit(main())
