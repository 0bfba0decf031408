"""The command line's argument parser: argparse's, with errors that name a misspelt option.

argparse reports an unknown option only at the end, and an unknown option that takes a value sends that value
to the next positional slot: `steer-eval --model demo --vectrs v.safetensors` fails with "invalid choice:
'v.safetensors'", which names neither the typo nor the fix. When a parse fails and the command line holds an
option no parser of the tree knows, the error names it and the closest known option instead.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Sequence


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose failed parses name the command line's unknown options first."""

    def parse_args(self, args: Sequence[str] | None = None, namespace=None):  # type: ignore[override]
        command_line, known = list(sys.argv[1:] if args is None else args), known_options(self)
        for parser in _tree(self):  # a sub-command's parser fails on its own (a missing required option)
            parser._context = (command_line, known)
        return super().parse_args(args, namespace)

    def error(self, message: str):  # type: ignore[override]
        context = getattr(self, "_context", None)
        if context is not None:
            command_line, known = context
            unknown = unknown_options(known, command_line)
            if unknown:
                message = "; ".join(_explain(option, known) for option in unknown)
        super().error(message)


def _tree(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """`parser` and the parsers of its sub-commands, at any depth."""
    parsers = [parser]
    for action in parser._actions:  # argparse keeps its actions here, and no public accessor
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                parsers += _tree(sub)
    return parsers


def known_options(parser: argparse.ArgumentParser) -> set[str]:
    """Every long option of `parser` and of its sub-commands, at any depth."""
    return {o for p in _tree(parser) for action in p._actions for o in action.option_strings if o.startswith("--")}


def unknown_options(known: set[str], command_line: Sequence[str]) -> list[str]:
    """The `--options` of the command line that none of `known` is nor abbreviates."""
    unknown = []
    for token in command_line:
        if token == "--":
            break
        name = token.split("=", 1)[0]
        if name.startswith("--") and len(name) > 2 and not any(option.startswith(name) for option in known):
            unknown.append(name)
    return list(dict.fromkeys(unknown))


def _explain(option: str, known: set[str]) -> str:
    close = difflib.get_close_matches(option, sorted(known), n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]}?)" if close else "; see steer-eval --help"
    return f"unknown option {option}{hint}"
