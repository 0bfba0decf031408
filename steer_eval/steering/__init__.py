"""Steering engine: find hook points in any Hugging Face causal LM, apply interventions with forward
hooks at chosen token positions, and the steered lm-eval model. Import from the submodules."""
