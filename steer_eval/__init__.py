"""steer-eval: measure where activation steering of language models helps and where it fails.

This file stays tiny on purpose: a `.pth` hook imports `steer_eval._lmeval_plugin` at every interpreter
start (so the plain `lm_eval` CLI knows our model), and that must not drag in torch.
"""

from __future__ import annotations


def __getattr__(name: str) -> str:
    if name == "__version__":
        from steer_eval._version import version

        return version()
    raise AttributeError(f"module 'steer_eval' has no attribute {name!r}")
