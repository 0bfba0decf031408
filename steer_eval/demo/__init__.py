"""The embedded demo world: a synthetic corpus with planted behaviours and capabilities, a tiny Llama
trained on it, and the lm-eval tasks that measure them. Import from the submodules."""
