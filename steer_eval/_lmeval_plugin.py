"""Makes `lm_eval --model steer-eval ...` work: registers our model in lm-eval's registry.

lm-eval has no plugin entry points, so the wheel installs a one-line `steer_eval_lmeval.pth` that imports
this module at interpreter start. It must stay cheap: it imports nothing heavy and only waits for
`lm_eval.api.registry` to be imported, then adds a lazy entry pointing at our class.
"""

from __future__ import annotations

import importlib.machinery
import sys
from types import ModuleType

MODEL_NAME = "steer-eval"
MODEL_TARGET = "steer_eval.steering.lm_model:SteerEvalLM"
_REGISTRY_MODULE = "lm_eval.api.registry"


def register(registry_module: ModuleType) -> None:
    """Add the lazy 'steer-eval' entry to lm-eval's model registry (idempotent).

    lm-eval fills its registry with its own (lazy) models only when it finds the registry empty, so an
    entry of ours alone would hide `hf`, `steered` and the rest: its own entries go in first (a cheap
    import of a name -> module table)."""
    import lm_eval.models  # noqa: F401  registers lm-eval's own models, lazily

    registry = registry_module.model_registry
    if MODEL_NAME not in registry:
        registry.register(MODEL_NAME, target=MODEL_TARGET)


class _RegistryWatcher:  # a meta path finder (importlib.abc is not imported: start-up cost)
    """Finds lm-eval's registry module like the normal path finder, then registers us once it has run."""

    def find_spec(self, fullname, path, target=None):
        if fullname != _REGISTRY_MODULE:
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        run_module = spec.loader.exec_module

        def exec_and_register(module: ModuleType) -> None:
            run_module(module)
            register(module)

        spec.loader.exec_module = exec_and_register  # type: ignore[method-assign]
        return spec


def install() -> None:
    if _REGISTRY_MODULE in sys.modules:
        register(sys.modules[_REGISTRY_MODULE])
    elif not any(isinstance(finder, _RegistryWatcher) for finder in sys.meta_path):
        sys.meta_path.insert(0, _RegistryWatcher())


install()
