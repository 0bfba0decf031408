"""`steer-eval compare RUN [RUN ...]`: several run folders side by side (docs/studies.md)."""

from steer_eval.compare.build import Comparison, compare_runs, write_comparison

__all__ = ["Comparison", "compare_runs", "write_comparison"]
