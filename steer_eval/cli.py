"""Command line: argument parsing only. Each verb is a thin call into the modules that own the work;
problems with the input arrive as `SteerEvalError` and leave as one line on stderr with exit code 2."""

from __future__ import annotations

import argparse
import errno
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from steer_eval.atomic import check_file_target
from steer_eval.cli_build import add_build_parser
from steer_eval.cli_parser import Parser
from steer_eval.cli_run import RUN_EXAMPLE, add_analysis_options, add_run_arguments, analysis_settings, run_from_args
from steer_eval.errors import EXIT_BAD_INPUT, SteerEvalError
from steer_eval.vocab import VECTOR_SOURCES as SOURCES

EXAMPLES = (
    RUN_EXAMPLE
    + """\
other commands:
  steer-eval demo                          # the embedded demo end to end: no GPU, no network
  steer-eval tasks                         # the labelled tasks steer-eval knows
  steer-eval vectors build --method caa --model demo --task demo_sentiment --layers 1-3 \\
      --select-on validation -o sentiment.safetensors
  steer-eval vectors show vectors/bias.safetensors
  steer-eval vectors import lm_eval_vector.pt -o bias.safetensors --model meta-llama/Llama-3.1-8B-Instruct
  steer-eval vectors export bias.safetensors -o bias.pt --model meta-llama/Llama-3.1-8B-Instruct --alpha 4
"""
)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="steer-eval",
        description="Measure where activation steering of language models helps and where it fails.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="store_true", help="print the steer-eval version and exit")
    add_run_arguments(parser)
    verbs = parser.add_subparsers(dest="verb", metavar="COMMAND")

    demo = verbs.add_parser(
        "demo",
        help="run the embedded demo world end to end and check its verdicts against the known truth "
        "(~2.5 min on 2 CPU cores)",
        epilog="examples:\n  steer-eval demo --output reports/demo\n  steer-eval demo --models"
        "                      # the demo models, for --model demo --model demo-qwen",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument("--output", type=Path, default=Path("reports/demo"), help="where to write vectors and results")
    demo.add_argument(
        "--rebuild",
        action="store_true",
        help="train the demo model from scratch (minutes) instead of using the shipped weights or the cache",
    )
    demo.add_argument(
        "--models", action="store_true", help="list the demo models (`--model NAME`) and stop: family, size, weights"
    )
    demo.set_defaults(handler=_demo)

    tasks = verbs.add_parser(
        "tasks",
        help="list the tasks: kind, family, desired answer, size, licence, whether the data is present",
        epilog="examples:\n  steer-eval tasks --data-dir ~/data\n  steer-eval tasks bias mmlu_stem --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tasks.add_argument("select", nargs="*", help="names, families, kinds or groups to list (default: all)")
    tasks.add_argument("--data-dir", help="folder with the datasets (default: $STEER_EVAL_DATA)")
    tasks.add_argument("--no-sizes", action="store_true", help="do not read the data to count items (faster)")
    tasks.add_argument("--json", action="store_true", help="print JSON instead of a table")
    tasks.set_defaults(handler=_tasks)

    analyze = verbs.add_parser(
        "analyze",
        help="(re)compute effects.csv and results.json of a run folder and print the verdicts",
        epilog="example:\n  steer-eval analyze reports/run --correction bh --margin 0.02",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    analyze.add_argument("run_dir", type=Path, help="a run folder written by the main job")
    add_analysis_options(analyze)
    analyze.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    analyze.set_defaults(handler=_analyze)

    report = verbs.add_parser(
        "report",
        help="(re)render a run folder's self-contained HTML report (and effects.csv / results.json if missing)",
        epilog="example:\n  steer-eval report reports/run -o bias-report.html",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    report.add_argument("run_dir", type=Path, help="a run folder written by the main job")
    report.add_argument("-o", "--output", type=Path, help="where to write (default RUN_DIR/report.html)")
    add_analysis_options(report)
    report.set_defaults(handler=_report)

    compare = verbs.add_parser(
        "compare",
        help="put several run folders side by side: effects per model, a leaderboard per task family, each run "
        "against the first (paired where they share items)",
        epilog="example:\n  steer-eval compare reports/llama reports/qwen reports/llama-sft --output reports/compare",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    compare.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="run folders (the first is the reference)")
    compare.add_argument("--output", dest="compare_output", type=Path, default=Path("reports/compare"),
                         help="where to write comparison.html, .csv and .json (default reports/compare)")  # fmt: skip
    add_analysis_options(compare)
    compare.set_defaults(handler=_compare)

    check = verbs.add_parser(
        "check",
        help="CI gate: run what an expectations file needs and fail (exit 1) when an expectation does not hold",
        epilog="example:\n  steer-eval check steering.yaml --junit junit.xml --summary $GITHUB_STEP_SUMMARY",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("spec", type=Path, help="the expectations file (YAML; docs/check.md)")
    check.add_argument("--baseline", type=Path, help="a previous run folder (or results.json) to compare against")
    check.add_argument("--junit", type=Path, help="write JUnit XML here (one test case per check)")
    check.add_argument("--summary", type=Path, help="write a Markdown summary here (append-safe for CI summaries)")
    check.add_argument("--output", dest="check_output", type=Path, default=Path("reports/check"), help="run folders")
    check.set_defaults(handler=_check)

    vectors = verbs.add_parser(
        "vectors",
        help="inspect and convert steering vector files",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    vector_verbs = vectors.add_subparsers(dest="vector_verb", metavar="ACTION", required=True)

    add_build_parser(vector_verbs)

    show = vector_verbs.add_parser(
        "show",
        help="what a vector is: metadata, per-layer norms, sha256",
        epilog="example:\n  steer-eval vectors show vectors/bias.safetensors --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    show.add_argument("file", type=Path, help="a steer-eval .safetensors or lm-eval steered .pt file")
    show.add_argument("--json", action="store_true", help="print JSON instead of a table")
    show.add_argument("--model", help="resolve lm-eval hookpoints against this model's config (hub id or path)")
    show.set_defaults(handler=_vectors_show)

    imp = vector_verbs.add_parser(
        "import",
        help="convert a vector made elsewhere (lm-eval .pt, CAA / PAS .pt, GGUF) into a steer-eval vector",
        epilog="examples:\n"
        "  steer-eval vectors import steer.pt -o steer.safetensors --model EleutherAI/pythia-70m\n"
        "  steer-eval vectors import vectors/sycophancy/vec_layer_*_Llama-2-7b-chat-hf.pt -o syco.safetensors\n"
        "  steer-eval vectors import iBAS_all_layer14_strength4.0.pt -o ipasa.safetensors\n"
        "  steer-eval vectors import happy.gguf -o happy.safetensors",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    imp.add_argument("files", type=Path, nargs="+", metavar="FILE", help="vector file(s); CAA: one file per layer")
    imp.add_argument("--from", dest="source", default="auto", choices=SOURCES, help="the file format (default: auto)")
    imp.add_argument("--layer", type=int, help="the layer of a bare tensor whose file name does not say it")
    imp.add_argument("-o", "--output", type=Path, required=True, help="where to write the .safetensors vector")
    imp.add_argument("--model", help="model (hub id or path) whose modules the hookpoints name; recommended")
    imp.add_argument("--revision", help="model revision, recorded in the vector's metadata")
    imp.set_defaults(handler=_vectors_import)

    exp = vector_verbs.add_parser(
        "export",
        help="write a steer-eval vector as an lm-eval steered .pt file or a llama.cpp GGUF control vector",
        epilog="examples:\n"
        "  steer-eval vectors export bias.safetensors -o bias.pt --model EleutherAI/pythia-70m --alpha 4\n"
        "  lm_eval --model steered --model_args pretrained=EleutherAI/pythia-70m,steer_path=bias.pt ...\n"
        "  steer-eval vectors export bias.safetensors -o bias.gguf --model meta-llama/Llama-3.1-8B-Instruct\n"
        "  llama-cli -m model.gguf --control-vector bias.gguf ...",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    exp.add_argument("file", type=Path, help="a steer-eval .safetensors vector")
    exp.add_argument("-o", "--output", type=Path, required=True, help="where to write: NAME.pt (lm-eval) or NAME.gguf")
    exp.add_argument("--model", help="model (hub id or path); required for .pt (it names the hookpoints)")
    exp.add_argument("--layer", type=int, help="which layer of a per-layer vector to write (default: its chosen one)")
    exp.add_argument("--revision", help="model revision")
    exp.add_argument("--alpha", type=float, help="strength to store as steering_coefficient (default: the vector's)")
    exp.set_defaults(handler=_vectors_export)
    return parser


def _model_map(model: str | None, revision: str | None = None):
    if model is None:
        return None
    from steer_eval.models import model_path
    from steer_eval.steering.model_map import ModelMap

    return ModelMap.from_config_only(model_path(model), revision=revision)


def _demo(args: argparse.Namespace) -> int:
    from steer_eval.demo.run import run_demo

    if args.models:
        from steer_eval.demo.model import describe_demo_models

        print(describe_demo_models())
        return 0
    demo = run_demo(args.output, rebuild=args.rebuild)
    result = demo.run
    print(f"\n{result.coverage}")
    print(result.summary)
    print(f"\n{demo.truth_summary} (the world's truth per cell: {args.output / 'truth.csv'}; docs/demo.md)")
    if demo.study is not None:
        from steer_eval.demo.study import cross_model_table

        print("\nacross models, at each vector's validation-selected strength (points [95% interval], verdict):")
        print("\n".join("  " + line for line in cross_model_table(demo.study.effects).splitlines()))
        print("\n".join(f"  {line}" for line in demo.study.lines))
        print(f"  the models side by side: {demo.study.folder / 'report.html'}")
    print(f"\nreport:     {result.output / 'report.html'}")
    print(f"vectors:    {args.output / 'vectors'}")
    print(f"run folder: {result.output} (effects.csv with verdicts, results.json, cells.csv, manifest.json)")
    return 0


def _vectors_show(args: argparse.Namespace) -> int:
    from steer_eval.vectors.describe import render_text, summary
    from steer_eval.vectors.files import read_vector_file

    model_map = _model_map(args.model)
    vector = read_vector_file(args.file, model_map.key_for_hookpoint if model_map else None)
    if model_map:
        model_map.check_fits(vector, str(args.file))
    info = summary(vector, args.file)
    print(json.dumps(info, indent=2, default=str) if args.json else render_text(info))
    return 0


def _vectors_import(args: argparse.Namespace) -> int:
    from steer_eval.vectors.files import read_vector_files
    from steer_eval.vectors.format import save_vector

    model_map = _model_map(args.model, args.revision)
    resolver = model_map.key_for_hookpoint if model_map else None
    vector = read_vector_files(args.files, resolver, args.source, args.layer)
    if model_map:
        model_map.check_fits(vector, ", ".join(str(f) for f in args.files))
        vector.meta.model_name, vector.meta.model_revision = args.model, args.revision
        vector.meta.hidden_size = model_map.hidden_size
    save_vector(vector, args.output)
    layers = ",".join(str(layer) for layer in vector.layers)
    print(
        f"wrote {args.output} ({len(vector.directions)} tensor(s) at layer(s) {layers}, action "
        f"{vector.meta.action.value}, positions {vector.meta.positions.value}, default alpha "
        f"{vector.meta.default_alpha:g}{', one layer at a time' if vector.meta.per_layer else ''})"
    )
    return 0


def _vectors_export(args: argparse.Namespace) -> int:
    from steer_eval.strengths import finite_strength
    from steer_eval.vectors.format import load_vector

    if args.alpha is not None:
        finite_strength(args.alpha, "--alpha")
    vector = load_vector(args.file)
    suffix = args.output.suffix.lower()
    if suffix == ".gguf":
        from steer_eval.vectors.gguf_io import write_gguf

        hint = vector.meta.model_name or "unknown"
        if args.model:
            model_map = _model_map(args.model, args.revision)
            model_map.check_fits(vector, str(args.file))
            hint = getattr(getattr(model_map.model, "config", None), "model_type", None) or args.model
        notes = write_gguf(vector, args.output, hint, alpha=args.alpha, layer=args.layer)
        target = "llama.cpp (--control-vector)"
    elif suffix in (".pt", ".pth"):
        from steer_eval.vectors.lmeval_pt import write_lmeval_pt

        if not args.model:
            raise SteerEvalError("exporting to lm-eval's .pt needs --model: lm-eval names modules, not layers")
        model_map = _model_map(args.model, args.revision)
        model_map.check_fits(vector, str(args.file))
        notes = write_lmeval_pt(vector, args.output, model_map.hookpoint, alpha=args.alpha, layer=args.layer)
        target = "lm-eval's steered model"
    else:
        raise SteerEvalError(f"{args.output}: export writes NAME.pt (lm-eval steered) or NAME.gguf (llama.cpp)")
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"wrote {args.output} for {target}")
    return 0


def _analyze(args: argparse.Namespace) -> int:
    from steer_eval.analysis.api import analyze
    from steer_eval.analysis.summary import plain_words

    analysis = analyze(args.run_dir, analysis_settings(args))
    analysis.write(args.run_dir)
    print(plain_words(analysis))
    print(f"\neffects: {args.run_dir / 'effects.csv'}\nresults: {args.run_dir / 'results.json'}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from steer_eval.report.build import build_report_analysed

    if args.output is not None:
        check_file_target(args.output, "report.html")
    path, analysis = build_report_analysed(args.run_dir, args.output, analysis_settings(args))
    for words in analysis.warnings:  # the page says it first too
        print(f"warning: {words}", file=sys.stderr)
    print(f"report: {path}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from steer_eval.compare import compare_runs, write_comparison

    comparison = compare_runs(args.runs, analysis_settings(args))
    page = write_comparison(comparison, args.compare_output)
    for line in comparison.summary:
        print(line)
    print(f"\ncomparison: {page}\ntable:      {page.with_suffix('.csv')}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from steer_eval.check.gate import run_checks
    from steer_eval.check.outputs import markdown, table, write_junit
    from steer_eval.check.spec import SpecError, load_spec

    spec = load_spec(args.spec)
    if args.baseline is not None and not args.baseline.exists():
        raise SpecError(f"--baseline {args.baseline} does not exist")
    if args.baseline is not None and spec.regression is None:
        raise SpecError(f"--baseline needs `regression: {{max_drop: ...}}` in {args.spec}")
    outcomes = run_checks(spec, args.check_output, args.baseline)
    print(table(outcomes))
    if args.junit:
        write_junit(outcomes, args.junit)
    if args.summary:
        args.summary.parent.mkdir(parents=True, exist_ok=True)
        with open(args.summary, "a", encoding="utf-8") as handle:  # CI summaries are appended to
            handle.write(markdown(outcomes))
    return 0 if all(o.passed for o in outcomes) else 1


def _tasks(args: argparse.Namespace) -> int:
    from steer_eval.tasks.catalog import catalog, render_catalog

    rows = catalog(args.data_dir, selectors=args.select or None, sizes=not args.no_sizes)
    print(json.dumps(rows, indent=2) if args.json else render_catalog(rows))
    return 0


# Options whose values are number lists that may start with a minus sign ("--alphas -4,-2,2"): argparse
# would take "-4,-2,2" for an option, so such a value is attached to its option before parsing.
NUMBER_LIST_OPTIONS = ("--alphas", "--strengths", "--layers")


def _attach_negative_values(argv: list[str]) -> list[str]:
    out: list[str] = []
    index = 0
    while index < len(argv):
        token = argv[index]
        following = argv[index + 1] if index + 1 < len(argv) else None
        if token in NUMBER_LIST_OPTIONS and following is not None and following[:1] == "-" and following[1:2].isdigit():
            out.append(f"{token}={following}")
            index += 2
            continue
        out.append(token)
        index += 1
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(_attach_negative_values(argv))
    if args.version:
        from steer_eval._version import version

        print(f"steer-eval {version()}")
        return 0
    if not getattr(args, "handler", None):
        if args.model is None and not args.vectors:
            parser.print_help()
            return EXIT_BAD_INPUT
        args.handler = lambda parsed: run_from_args(parsed, argv)
        if args.model is None:
            print("steer-eval: error: the main job needs --model (a hub id, a local folder or 'demo')", file=sys.stderr)
            return EXIT_BAD_INPUT
    from steer_eval.signals import Stopped, interrupted_line, stop_on_signals

    output = getattr(args, "run_output", None) if args.verb is None else None
    try:
        with stop_on_signals():
            return args.handler(args)
    except Stopped as stop:
        print(interrupted_line(stop.name, output), file=sys.stderr)
        return 128 + stop.number
    except SteerEvalError as exc:
        print(f"steer-eval: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:  # e.g. an output folder that cannot be written, a full disk
        hint = ""
        if exc.errno == errno.ENOSPC:
            hint = "; free some space and rerun the same command (finished cells are kept)"
        print(f"steer-eval: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": ") + hint, file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(interrupted_line("SIGINT", output), file=sys.stderr)
        return 130
    finally:
        _leave_process_group()


def _leave_process_group() -> None:
    """A data-parallel process (torchrun, accelerate launch) leaves its group before it exits: left to the
    interpreter's shutdown, gloo's threads can abort the process ("terminate called without an active
    exception") after its work is done."""
    dist = sys.modules.get("torch.distributed")  # never imported: no group to leave (and no torch to load)
    if dist is not None and dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
