"""Command line: argument parsing only. Each verb is a thin call into the modules that own the work;
problems with the input arrive as `SteerEvalError` and leave as one line on stderr with exit code 2."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from steer_eval.errors import EXIT_BAD_INPUT, SteerEvalError

EXAMPLES = """\
examples:
  steer-eval demo                          # the embedded demo end to end: no GPU, no network
  steer-eval vectors show vectors/bias.safetensors
  steer-eval vectors import lm_eval_vector.pt -o bias.safetensors --model meta-llama/Llama-3.1-8B-Instruct
  steer-eval vectors export bias.safetensors -o bias.pt --model meta-llama/Llama-3.1-8B-Instruct --alpha 4
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="steer-eval",
        description="Measure where activation steering of language models helps and where it fails.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="store_true", help="print the steer-eval version and exit")
    verbs = parser.add_subparsers(dest="verb", metavar="COMMAND")

    demo = verbs.add_parser(
        "demo",
        help="run the embedded demo world end to end (builds a tiny model on first use, ~2 min on 2 CPU cores)",
        epilog="example:\n  steer-eval demo --output reports/demo",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument("--output", type=Path, default=Path("reports/demo"), help="where to write vectors and results")
    demo.add_argument("--rebuild", action="store_true", help="retrain the demo model even if a valid one is cached")
    demo.set_defaults(handler=_demo)

    vectors = verbs.add_parser(
        "vectors",
        help="inspect and convert steering vector files",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    vector_verbs = vectors.add_subparsers(dest="vector_verb", metavar="ACTION", required=True)

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
        help="convert an lm-eval steered .pt file into a steer-eval .safetensors vector",
        epilog="example:\n  steer-eval vectors import steer.pt -o steer.safetensors --model EleutherAI/pythia-70m",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    imp.add_argument("file", type=Path, help="lm-eval steered .pt file ({hookpoint: {steering_vector, ...}})")
    imp.add_argument("-o", "--output", type=Path, required=True, help="where to write the .safetensors vector")
    imp.add_argument("--model", help="model (hub id or path) whose modules the hookpoints name; recommended")
    imp.add_argument("--revision", help="model revision, recorded in the vector's metadata")
    imp.set_defaults(handler=_vectors_import)

    exp = vector_verbs.add_parser(
        "export",
        help="write a steer-eval vector as an lm-eval steered .pt file",
        epilog="example:\n"
        "  steer-eval vectors export bias.safetensors -o bias.pt --model EleutherAI/pythia-70m --alpha 4\n"
        "  lm_eval --model steered --model_args pretrained=EleutherAI/pythia-70m,steer_path=bias.pt ...",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    exp.add_argument("file", type=Path, help="a steer-eval .safetensors vector")
    exp.add_argument("-o", "--output", type=Path, required=True, help="where to write the .pt file")
    exp.add_argument("--model", required=True, help="model (hub id or path) that names the hookpoints")
    exp.add_argument("--revision", help="model revision")
    exp.add_argument("--alpha", type=float, help="strength to store as steering_coefficient (default: the vector's)")
    exp.set_defaults(handler=_vectors_export)
    return parser


def _model_map(model: str | None, revision: str | None = None):
    if model is None:
        return None
    from steer_eval.steering.model_map import ModelMap

    return ModelMap.from_config_only(model, revision=revision)


def _demo(args: argparse.Namespace) -> int:
    from steer_eval.demo.run import render_table, run_demo

    results = run_demo(args.output, rebuild=args.rebuild)
    print(render_table(results))
    print(f"\nmodel: {results['model']}\nresults: {args.output / 'demo_results.json'}")
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
    from steer_eval.vectors.format import save_vector
    from steer_eval.vectors.lmeval_pt import read_lmeval_pt

    model_map = _model_map(args.model, args.revision)
    vector = read_lmeval_pt(args.file, model_map.key_for_hookpoint if model_map else None)
    if model_map:
        model_map.check_fits(vector, str(args.file))
        vector.meta.model_name, vector.meta.model_revision = args.model, args.revision
        vector.meta.hidden_size = model_map.hidden_size
    save_vector(vector, args.output)
    print(
        f"wrote {args.output} ({len(vector.directions)} tensor(s), action {vector.meta.action.value}, "
        f"default alpha {vector.meta.default_alpha:g})"
    )
    return 0


def _vectors_export(args: argparse.Namespace) -> int:
    from steer_eval.vectors.format import load_vector
    from steer_eval.vectors.lmeval_pt import write_lmeval_pt

    model_map = _model_map(args.model, args.revision)
    vector = load_vector(args.file)
    model_map.check_fits(vector, str(args.file))
    notes = write_lmeval_pt(vector, args.output, model_map.hookpoint, alpha=args.alpha)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"wrote {args.output} for lm-eval's steered model")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from steer_eval._version import version

        print(f"steer-eval {version()}")
        return 0
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        return args.handler(args)
    except SteerEvalError as exc:
        print(f"steer-eval: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:  # e.g. an output folder that cannot be written
        print(f"steer-eval: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("steer-eval: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
