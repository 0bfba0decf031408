"""lm-eval hooks for steer-eval's registry tasks (generated; see steer_eval/tasks/lmeval_adapter.py)."""

from steer_eval.tasks.lmeval_adapter import (  # noqa: F401
    bbq_bias_ambiguous,
    bbq_bias_disambiguated,
    bbq_results,
    dataset,
    gsm8k_results,
    mc_results,
    mean_scored,
    open_results,
    refusal_results,
    scored_results,
)
