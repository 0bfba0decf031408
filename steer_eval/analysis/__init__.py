"""Paired statistics over a run store: effects with intervals and tests, corrections, non-inferiority,
power, dose-response and reliability, placebo and option-order controls, and verdicts. Reads only the run
store (run/), writes `effects.csv` and `results.json`; `analyze(run_dir)` returns the same as DataFrames."""

from steer_eval.analysis.api import Analysis, Settings, analyze, effects_frame

__all__ = ["Analysis", "Settings", "analyze", "effects_frame"]
