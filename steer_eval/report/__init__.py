"""One self-contained HTML report per run (jinja2, autoescaped; seaborn figures embedded as PNG)."""

from steer_eval.report.build import build_report

__all__ = ["build_report"]
