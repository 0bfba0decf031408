"""Arguments of `steer-eval vectors build` and the thin call into vectors/make.py."""

from __future__ import annotations

import argparse
from pathlib import Path

from steer_eval.atomic import check_file_target
from steer_eval.errors import SteerEvalError
from steer_eval.option_lists import parse_floats, parse_layers
from steer_eval.prompt_format import PromptFormat
from steer_eval.run.config import parse_model_args
from steer_eval.vocab import PositionMode, Site

METHOD_NAMES = ("caa", "pca", "pasf", "ipasa", "ipaswo", "austeer", "random")
EXAMPLES = """\
examples:
  steer-eval vectors build --method caa --model demo --task demo_sentiment --layers 1-3 -o caa.safetensors
  steer-eval vectors build --method ipasa --model meta-llama/Llama-3.1-8B-Instruct --task bbq_age \\
      --data-dir ~/data --layers 10-20 --select-on validation -o bbq_age.safetensors
  steer-eval vectors build --method austeer --model demo --task demo_sycophancy --top-k 50 -o au.safetensors
  steer-eval vectors build --method random --like caa.safetensors --seed 1 -o placebo.safetensors
  steer-eval vectors build --method caa --model meta-llama/Llama-3.1-8B-Instruct --task caa_sycophancy \\
      --data-dir ~/data --apply-chat-template --select-on validation -o syc.safetensors
  steer-eval vectors build --method caa --model demo --task demo_sentiment --layers 1-2 --select-on validation \\
      --resamples 5 -o mood.safetensors     # 5 bootstrap resamples in the same file: is the verdict stable?
  steer-eval vectors build --method caa --model meta-llama/Llama-3.1-70B --task bbq_age --data-dir ~/data \\
      --model-args parallelize=True,max_cpu_memory=64GB,offload_folder=/scratch/off -o bbq70b.safetensors
"""


def add_build_parser(vector_verbs) -> None:
    build = vector_verbs.add_parser(
        "build",
        help="build a steering vector from a labelled task's train split",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    build.add_argument("--method", required=True, choices=METHOD_NAMES, help="how to build (docs/vectors.md)")
    build.add_argument("--model", help="hub id, local folder, or 'demo' (the embedded demo model)")
    build.add_argument("--revision", help="model revision (recorded in the vector)")
    build.add_argument("--task", help="a task from `steer-eval tasks`; only its train split is read")
    build.add_argument("--data-dir", help="folder holding the task's data files (default: $STEER_EVAL_DATA)")
    build.add_argument("--layers", help="layers to read: '12', '10,12,14', '10-14' or 'all' (default: all)")
    build.add_argument("--site", default="resid", choices=[s.value for s in Site], help="where to read and write")
    build.add_argument("--top-k", type=int, default=20, help="austeer: how many units to keep (default 20)")
    build.add_argument("--like", type=Path, help="random: the vector whose layers and norms the control copies")
    build.add_argument("--seed", type=int, default=0, help="seed for sampling and for random vectors")
    build.add_argument("--max-items", type=int, help="use at most this many train items (a seeded sample)")
    build.add_argument("--batch-size", type=int, default=16, help="sequences per forward pass (default 16)")
    build.add_argument("--select-on", choices=["validation"], help="choose layer and strength on the validation split")
    build.add_argument(
        "--model-args",
        help="lm-eval's model args, as a run loads the model: parallelize=True (with max_memory_per_gpu, "
        "max_cpu_memory, offload_folder) splits the layers over devices; others go to from_pretrained",
    )
    build.add_argument(
        "--resamples",
        type=int,
        default=0,
        metavar="R",
        help="also build R vectors from bootstrap resamples of the training items, stored in the same file with "
        "their cosines to the vector (and, with --select-on, each one's chosen layer and strength)",
    )
    build.add_argument("--strengths", help="strengths for --select-on (default 0.25,0.5,1,2,4,8,16,32)")
    build.add_argument("--positions", choices=[p.value for p in PositionMode], help="override where it applies")
    build.add_argument(
        "--apply-chat-template",
        action="store_true",
        help="read the vector on prompts shown through the model's chat template (instruct models; recorded)",
    )
    build.add_argument("--system-instruction", help="a system instruction before every prompt (recorded)")
    build.add_argument("--device", default="auto", help="auto (GPU if present), cpu, cuda, cuda:N")
    build.add_argument("--dtype", default="auto", help="auto, float32, bfloat16, float16")
    build.add_argument("-o", "--output", type=Path, required=True, help="where to write the .safetensors vector")
    build.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from steer_eval.vectors.build import BuildSpec
    from steer_eval.vectors.describe import render_build
    from steer_eval.vectors.make import BuildRequest, run_build
    from steer_eval.vectors.select import DEFAULT_STRENGTHS

    if args.batch_size < 1 or (args.max_items is not None and args.max_items < 1):
        raise SteerEvalError("--batch-size and --max-items must be at least 1")
    if args.strengths and not args.select_on:
        raise SteerEvalError("--strengths is the grid for --select-on validation; add --select-on validation")
    check_file_target(args.output, "NAME.safetensors")  # before the build, not after it
    spec = BuildSpec(
        method=args.method,
        task=args.task,
        layers=parse_layers(args.layers),
        site=Site(args.site),
        top_k=args.top_k,
        max_items=args.max_items,
        seed=args.seed,
        batch_size=args.batch_size,
        prompt_format=PromptFormat(args.apply_chat_template, args.system_instruction or None),
    )
    request = BuildRequest(
        spec=spec,
        output=args.output,
        model=args.model,
        revision=args.revision,
        data_dir=args.data_dir,
        like=args.like,
        select_on=args.select_on,
        strengths=parse_floats(args.strengths, "--strengths") or list(DEFAULT_STRENGTHS),
        positions=PositionMode(args.positions) if args.positions else None,
        device=args.device,
        dtype=args.dtype,
        resamples=args.resamples,
        model_args=parse_model_args(args.model_args),
    )
    vector = run_build(request)
    print(render_build(vector, args.output))
    return 0
