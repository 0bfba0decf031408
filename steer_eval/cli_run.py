"""Arguments of the main job, `steer-eval --model MODEL --vectors FILES ...`, and the thin call into run/."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from steer_eval.errors import SteerEvalError

RUN_EXAMPLE = """\
the main job:
  steer-eval --model demo --vectors sentiment.safetensors --tasks demo --alphas -2,2,4 --controls random
  steer-eval --model meta-llama/Llama-3.1-8B-Instruct --vectors bias.safetensors --tasks bias,mmlu_stem \\
      --alphas -4,-2,2,4,8 --fewshot 0,5 --option-orders 4 --data-dir ~/data --output reports/bias
  steer-eval --model meta-llama/Llama-3.1-8B-Instruct --vectors bias-v2.safetensors --tasks bias,mmlu_stem \\
      --data-dir ~/data --reuse reports/bias --output reports/bias-v2     # baselines copied, not recomputed
  steer-eval --model demo --vectors mood.safetensors --tasks demo_generation --positions generated \\
      --alphas 0.5,1,2 --prompt-arm declared --fewshot-arm 3 --samples 4      # free text, asking as the rival
  steer-eval --model meta-llama/Llama-3.1-8B-Instruct --vectors syc.safetensors --tasks caa_sycophancy_open \\
      --apply-chat-template --data-dir ~/data --scorer judge:Qwen/Qwen2.5-7B-Instruct \\
      --judge-url http://localhost:8000/v1                                   # an LLM judge behind vLLM
  steer-eval --model demo --vectors mood.safetensors --tasks demo --templates 3 --pressure all --turns 2,4 \\
      --controls random:5                          # where it holds: formats, pressure, earlier turns; 5 placebos
  steer-eval --model demo --model demo-qwen --vectors caa:demo_sentiment ipasa:demo_sentiment --tasks demo \\
      --output reports/study       # two models, methods as recipes built for each, compared in one folder
  steer-eval --model demo --vectors mood.safetensors --tasks demo --model-args peft=adapters/mood-lora \\
      --output reports/lora                          # a PEFT adapter on its base model, then steer-eval compare
  torchrun --nproc_per_node 2 -m steer_eval --model demo --vectors mood.safetensors --device cpu  # 2 processes
  accelerate launch --multi_gpu --num_processes 2 -m steer_eval --model demo --vectors mood.safetensors --device cpu
  steer-eval --model demo --vectors mood.safetensors --shard 2/4 --output runs/shared  # part 2 of 4 (a job array)
  steer-eval --model demo --vectors mood.safetensors style.safetensors --tasks demo_sentiment \\
      --alphas 1,2 --controls random --combine pairs     # each pair's strengths crossed, against a placebo pair
"""


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    run = parser.add_argument_group(
        "the main job (no COMMAND): every vector x strength x task against a shared baseline"
    )
    run.add_argument(
        "--model",
        action="append",
        help="hub id, local folder, or 'demo'; repeat it (or give a comma list) to run the job on several models, "
        "each into OUTPUT/models/NAME, compared in OUTPUT",
    )
    run.add_argument(
        "--vectors",
        nargs="+",
        type=Path,
        metavar="FILE|RECIPE",
        help="steer-eval .safetensors, lm-eval .pt, CAA/PAS .pt, GGUF; or a recipe METHOD:TASK[:KEY=VALUE...] "
        "(e.g. caa:demo_sentiment, austeer:bbq_age:top_k=50), built for the model and selected on validation",
    )
    run.add_argument(
        "--tasks",
        action="append",
        help="names, families, kinds, groups (ours or lm-eval's); default behavior,intelligence",
    )
    run.add_argument(
        "--alphas",
        help="strengths, e.g. -2,selected,4: 'selected' is each vector's validation-selected strength (0 is the "
        "shared baseline; default -4,-2,2,4,8 plus each vector's selected strength where it recorded one)",
    )
    run.add_argument("--layers", help="layers of per-layer vectors, e.g. 12,14 (default: each vector's chosen layer)")
    run.add_argument("--positions", help="position modes, e.g. all,last_prompt (default: each vector's own)")
    run.add_argument("--fewshot", default="0", help="few-shot counts from the train split, e.g. 0,5 (default 0)")
    run.add_argument(
        "--option-orders",
        type=int,
        default=1,
        help="K: run each multiple-choice task under K rotations of its options (K = the option count balances "
        "the answer's position; a task runs at most as many orders as it has)",
    )
    run.add_argument(
        "--templates",
        type=int,
        default=1,
        metavar="K",
        help="where it holds: also run each task in its prompt templates 1..K-1 (other wordings and answer "
        "formats; each behaviour task declares 3), each against its own baseline",
    )
    run.add_argument(
        "--pressure",
        metavar="NAME[,NAME]",
        help="where it holds: also run each behaviour task under these pressure prompts pushing against the "
        "behaviour (opposite, persona, authority, insist; the demo's: opposite), or 'all' its family declares",
    )
    run.add_argument(
        "--turns",
        metavar="N[,N]",
        help="where it holds: also ask each item after N earlier turns of unrelated dialogue, e.g. 0,2,8",
    )
    run.add_argument(
        "--controls",
        help="'random': add 5 same-norm random vectors per vector (the placebo distribution each vector is judged "
        "against); 'random:N' for N draws",
    )
    run.add_argument(
        "--combine",
        nargs="?",
        const="all",
        metavar="all|pairs|A+B[,C+D]",
        help="vectors together, against the singles (interaction analysis): no value or `all` runs every vector at "
        "once at the shared strengths; `pairs` (every pair) or declared pairs A+B (file names or stems) run each "
        "pair's strengths crossed, with a placebo pair where --controls random is on",
    )
    run.add_argument(
        "--prompt-arm",
        action="append",
        metavar="NAME=TEXT",
        help="a rival arm: this instruction before every prompt, alone and with each vector ('declared': each "
        "behaviour task's own instruction); repeatable",
    )
    run.add_argument(
        "--scorer",
        action="append",
        metavar="[TASK=]NAME",
        help="score generation tasks with NAME instead of their declared scorer (all of them, or TASK's): e.g. "
        "refusal, classifier:MODEL:LABEL; repeatable",
    )
    run.add_argument(
        "--samples",
        type=int,
        default=1,
        help="generations per prompt of a generation task: 1 (default) decodes greedily, N samples N texts at "
        "--temperature, scored per prompt as their mean",
    )
    run.add_argument(
        "--apply-chat-template",
        action="store_true",
        help="show every prompt through the model's chat template (instruct models; lm-eval's option)",
    )
    run.add_argument("--system-instruction", help="a system instruction before every prompt (lm-eval's option)")
    run.add_argument("--temperature", type=float, help="sampling temperature with --samples N, 2 or more (1.0)")
    run.add_argument(
        "--judge-url",
        help="an OpenAI-compatible endpoint (vLLM, `transformers serve`) for the judge:MODEL scorers of this run, "
        "e.g. http://localhost:8000/v1 (default: run the judge model locally)",
    )
    run.add_argument(
        "--fewshot-arm", help="rival arms of K demonstrations of the behaviour from the train split, e.g. 3 or 1,5"
    )
    run.add_argument("--limit", type=int, help="at most N test items per task (quick runs)")
    run.add_argument("--seed", type=int, default=0, help="seed for controls and few-shot sampling")
    run.add_argument("--revision", help="model revision")
    run.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    run.add_argument("--dtype", default="auto", help="auto, bfloat16, float16, float32")
    run.add_argument("--batch-size", default="auto", help="auto (the largest batch that fits; default) or N")
    run.add_argument(
        "--no-prefix-reuse",
        dest="prefix_reuse",
        action="store_false",
        help="score every cell with full forward passes, and let each generation setting encode its own prompts "
        "(same numbers, slower; for timing and diagnosis)",
    )
    run.add_argument("--model-args", help="extra lm-eval model args, e.g. parallelize=True,trust_remote_code=True")
    run.add_argument("--data-dir", dest="run_data_dir", help="folder with the datasets (default: $STEER_EVAL_DATA)")
    run.add_argument("--include-path", help="a folder of your own lm-eval tasks")
    run.add_argument(
        "--output", dest="run_output", type=Path, default=Path("reports/run"), help="run folder (default reports/run)"
    )
    run.add_argument(
        "--reuse",
        nargs="+",
        type=Path,
        default=[],
        metavar="RUN",
        help="earlier run folders (or folders of them): their finished cells that match this grid are copied, "
        "not recomputed (e.g. the unsteered baselines of the same model, tasks and limit)",
    )
    run.add_argument(
        "--shard",
        metavar="I/N",
        help="compute only part I of N disjoint parts of the grid (a job array's task, one of N GPUs) into the "
        "same --output; the last part to finish writes the results (docs/running.md)",
    )
    add_analysis_options(run)
    run.add_argument("--dry-run", action="store_true", help="print the grid size and the work, compute nothing")


def add_analysis_options(parser) -> None:
    parser.add_argument("--correction", default="holm", choices=["holm", "bh"], help="multiple-comparison correction")
    parser.add_argument("--margin", type=float, default=0.01, help="non-inferiority margin on accuracy (default 0.01)")


def analysis_settings(args: argparse.Namespace):
    from steer_eval.analysis.api import Settings

    settings = Settings(correction=args.correction, margin=args.margin, seed=getattr(args, "seed", 0))
    settings.check()
    return settings


def run_from_args(args: argparse.Namespace, argv: list[str] | None) -> int:
    from steer_eval.conditions.pressure import parse_pressure
    from steer_eval.conditions.turns import parse_turns
    from steer_eval.option_lists import parse_layers
    from steer_eval.prompt_format import PromptFormat
    from steer_eval.run.arms import parse_prompt_arms
    from steer_eval.run.config import (
        RunConfig,
        parse_list,
        parse_model_args,
        parse_positions,
        parse_scorers,
        split_selectors,
        with_judge_url,
    )
    from steer_eval.run.main import run
    from steer_eval.run.shard import parse_shard
    from steer_eval.strengths import parse_strengths

    if not args.vectors:
        raise SteerEvalError(
            "the main job needs --vectors FILE [FILE ...] (build one with `steer-eval vectors build`) or a recipe "
            "such as caa:TASK"
        )
    from steer_eval.vectors.recipes import parse_recipe

    missing = [str(p) for p in args.vectors if not p.is_file() and parse_recipe(str(p)) is None]
    if missing:
        raise SteerEvalError(f"vector file(s) not found: {', '.join(missing)}")
    models = [m.strip() for entry in args.model for m in entry.split(",") if m.strip()]
    if not models:
        raise SteerEvalError("--model is empty; name a hub id, a local folder or 'demo'")
    config = RunConfig(
        model=models[0],
        vectors=list(args.vectors),
        tasks=split_selectors(args.tasks),
        alphas=parse_strengths(args.alphas, "--alphas"),  # None: the default grid + each vector's selected
        layers=parse_layers(args.layers) if args.layers else None,
        positions=parse_positions(args.positions),
        fewshot=parse_list(args.fewshot, int, "--fewshot", "0,5"),
        option_orders=args.option_orders,
        templates=args.templates,
        pressure=parse_pressure(args.pressure),
        turns=parse_turns(args.turns),
        controls=parse_list(args.controls, str, "--controls", "random") or [],
        combine=args.combine == "all",
        pairs="" if args.combine in (None, "all") else args.combine,
        prompt_arms=parse_prompt_arms(args.prompt_arm),
        scorers=with_judge_url(parse_scorers(args.scorer), args.judge_url),
        samples=args.samples,
        temperature=_temperature(args.temperature, args.samples),
        prompt_format=PromptFormat(args.apply_chat_template, args.system_instruction or None),
        fewshot_arms=parse_list(args.fewshot_arm, int, "--fewshot-arm", "3") or [],
        limit=args.limit,
        seed=args.seed,
        revision=args.revision,
        device=args.device,
        dtype=args.dtype,
        batch_size=str(args.batch_size),
        prefix_reuse=args.prefix_reuse,
        model_args=parse_model_args(args.model_args),
        data_dir=args.run_data_dir,
        include_path=args.include_path,
        output=args.run_output,
        reuse=list(args.reuse),
        shard=parse_shard(args.shard),
        command="steer-eval " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
    )
    if len(models) > 1:
        return _study(config, models, args)
    result = run(config, dry_run=args.dry_run, settings=analysis_settings(args))
    if isinstance(result, str):
        print(result)
        return 0
    counts = result.counts
    if not result.rows and not result.summary:  # a data-parallel worker (rank > 0): rank 0 reports
        return 0
    copied = f", {counts['reused']} copied from --reuse" if counts.get("reused") else ""
    print(f"\n{result.coverage}{copied}")
    print(result.summary)
    if not result.rows:  # a shard whose siblings are still running: no results yet
        print(f"run folder: {result.output}")
        return 0
    print(f"\nreport:    {result.output / 'report.html'}")
    print(f"effects:   {result.output / 'effects.csv'} (one row per steered cell, with verdicts)")
    print(f"results:   {result.output / 'results.json'}\nrun folder: {result.output}")
    return 0


def _study(config, models: list[str], args: argparse.Namespace) -> int:
    """Several models: each model's run, then their comparison; failures named at the end (exit 2)."""
    from steer_eval.run.study import run_study

    study = run_study(config, models, dry_run=args.dry_run, settings=analysis_settings(args))
    for model, estimate in study.estimates.items():
        print(f"model {model}:\n{estimate}\n")
    for model, folder in study.finished.items():
        print(f"model {model}: {folder / 'report.html'}")
    if study.summary:
        print("\nacross models:")
        for line in study.summary:
            print(f"  {line}")
        print(f"\nreport:    {config.output / 'report.html'} (the models side by side)")
        print(f"effects:   {config.output / 'effects.csv'} (every model's cells, with a model column)")
    if study.failed:
        failed = "; ".join(f"{model}: {why}" for model, why in study.failed.items())
        done = ", ".join(study.finished) or "none"
        raise SteerEvalError(f"{len(study.failed)} of {len(models)} models failed ({failed}); finished: {done}")
    return 0


def _temperature(temperature: float | None, samples: int) -> float:
    """--temperature applies to sampled decoding only; with --samples 1 (greedy) it would be silently ignored."""
    if temperature is not None and samples == 1:
        raise SteerEvalError(
            f"--temperature {temperature:g} has no effect: --samples 1 (the default) decodes greedily; add "
            "--samples N (2 or more) to sample N texts per prompt at that temperature"
        )
    return 1.0 if temperature is None else temperature
