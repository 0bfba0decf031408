"""Scoring generated text: behaviour scorers (rules and lexicons now; classifiers and judges plug into the
same registry) and fluency measures that need no judge. A scorer's name is part of every generation cell's
key, so a different scorer is a different measurement."""

from steer_eval.scoring.registry import (
    RuleScorer,
    Scorer,
    ScorerError,
    get_scorer,
    register_factory,
    register_scorer,
    scorer_names,
)

__all__ = ["RuleScorer", "Scorer", "ScorerError", "get_scorer", "register_factory", "register_scorer", "scorer_names"]
