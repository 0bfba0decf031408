"""The demo model on disk: put once per recipe into the user's cache (from the shipped weights for the
default recipe, else trained), checked on every use (files and their sha256 against a manifest), put back
when missing or corrupt. Building happens in a temporary folder that is renamed into place, under a file
lock, so a crash or a parallel run never leaves half a model."""

from __future__ import annotations

import dataclasses
import fcntl
import json
import logging
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from steer_eval._version import version
from steer_eval.demo.model import WORLD_VERSION, DemoRecipe, demo_name
from steer_eval.demo.shipped import load_shipped_model, shipped_provenance, shipped_weights
from steer_eval.demo.training import train_demo_model
from steer_eval.paths import cache_dir
from steer_eval.vectors.format import file_sha256

log = logging.getLogger(__name__)
MANIFEST = "steer_eval_demo.json"


def demo_root() -> Path:
    return cache_dir() / "demo"


def demo_model_dir(recipe: DemoRecipe | None = None, rebuild: bool = False, progress: bool = True) -> Path:
    """A valid Hugging Face model directory for `recipe`, building it if needed: from the shipped weights
    where the package has them for this recipe, else by training (`rebuild` always trains)."""
    recipe = recipe or DemoRecipe()
    target = demo_root() / f"{demo_name(recipe)}-{recipe.fingerprint()}"
    if not rebuild and problem_with(target, recipe) is None:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _lock(target.with_suffix(".lock")):
        problem = "a rebuild was requested" if rebuild else problem_with(target, recipe)
        if problem is None:  # another process built it while we waited
            return target
        if target.exists():
            log.warning("rebuilding the demo model at %s: %s", target, problem)
        _build(target, recipe, progress, train=rebuild)
    return target


def problem_with(directory: Path, recipe: DemoRecipe) -> str | None:
    """Why `directory` is not a valid build of `recipe`, or None when it is."""
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        return "it is missing"
    try:
        manifest = json.loads(manifest_path.read_text())
        if manifest["fingerprint"] != recipe.fingerprint():
            return "it was built from a different recipe"
        for name, digest in manifest["files"].items():
            path = directory / name
            if not path.is_file():
                return f"{name} is missing"
            if file_sha256(path) != digest:
                return f"{name} is corrupt (sha256 mismatch)"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"its manifest is unreadable ({exc})"
    return None


def _build(target: Path, recipe: DemoRecipe, progress: bool, train: bool = False) -> None:
    started = time.perf_counter()
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.building."))
    try:
        weights = None if train else shipped_weights(recipe)
        if weights is not None:
            model, tokenizer = load_shipped_model(recipe, weights)
        else:
            model, tokenizer = train_demo_model(recipe, progress=progress)
        model.config.name_or_path = demo_name(recipe)
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        files = {p.name: file_sha256(p) for p in sorted(staging.iterdir()) if p.is_file()}
        manifest = {
            "fingerprint": recipe.fingerprint(),
            "recipe": dataclasses.asdict(recipe),
            "world_version": WORLD_VERSION,
            "steer_eval_version": version(),
            "source": "shipped weights" if weights is not None else "trained here",
            "shipped": shipped_provenance(weights) if weights is not None else None,
            "build_seconds": round(time.perf_counter() - started, 1),
            "files": files,
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2))
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


@contextmanager
def _lock(path: Path) -> Iterator[None]:
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
