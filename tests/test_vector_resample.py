"""Resampled vectors (issue 19): `vectors build --resamples R` stores R vectors built from bootstrap resamples of
the training items beside the vector, which stays the same vector (same tensors, same identity), with their
cosines to it and each one's validation choice. On the demo, PASf's mood direction is read cleanly at layer 2
(where the selection puts it) and barely at layer 1: its resamples agree at 2 and scatter at 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from steer_eval.cli import main
from steer_eval.errors import EXIT_BAD_INPUT, VectorFileError
from steer_eval.vectors.format import content_sha256, load_vector


def _build(output: Path, *extra: str) -> int:
    return main(["vectors", "build", "--method", "pasf", "--model", "demo", "--task", "demo_sentiment",
                 "--select-on", "validation", "--strengths", "0.5,1", "--batch-size", "32", "-o", str(output),
                 *extra])  # fmt: skip


@pytest.fixture(scope="module")
def resampled(demo_dir, tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("resample")
    assert _build(folder / "plain.safetensors") == 0
    assert _build(folder / "resampled.safetensors", "--resamples", "3") == 0
    return folder / "plain.safetensors", folder / "resampled.safetensors"


def test_resamples_are_stored_beside_the_unchanged_vector(resampled, capsys) -> None:
    plain, path = (load_vector(p) for p in resampled)
    assert len(path.resamples) == 3 and not plain.resamples
    assert content_sha256(path) == content_sha256(plain), "the vector itself is the same vector"
    assert all(set(r) == set(path.directions) for r in path.resamples)
    assert not any(torch.equal(r[key], path.directions[key]) for r in path.resamples for key in path.directions if
                   path.directions[key].any()), "each resample is its own build"  # fmt: skip
    record = path.meta.extra["resamples"]
    assert record["count"] == 3 and len(record["selected"]) == 3
    assert main(["vectors", "show", str(resampled[1])]) == 0
    assert "3 bootstrap resamples of the training items" in capsys.readouterr().out


def test_resamples_agree_where_the_direction_is_read_cleanly(resampled) -> None:
    record = load_vector(resampled[1]).meta.extra["resamples"]
    strong, weak = record["by_key"]["resid.2"], record["by_key"]["resid.1"]
    assert min(strong["cosine_to_main"]) > 0.95 and strong["pairwise_cosine_mean"] > 0.95
    assert weak["pairwise_cosine_mean"] < strong["pairwise_cosine_mean"] - 0.1
    assert record["layer_pick_stability"] == 1.0 and all(c["layer"] == 2 for c in record["selected"])


def test_too_few_resamples_and_damaged_resample_tensors_are_refused(resampled, tmp_path: Path, capsys) -> None:
    assert _build(tmp_path / "v.safetensors", "--resamples", "1") == EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--resamples must be at least 2" in err
    tensors = load_file(str(resampled[1]))
    from safetensors import safe_open

    with safe_open(str(resampled[1]), framework="pt") as handle:
        metadata = handle.metadata()
    tensors["resampleX.resid.2"] = tensors.pop("resample0.resid.2")
    save_file(tensors, str(tmp_path / "bad.safetensors"), metadata=metadata)
    with pytest.raises(VectorFileError, match="not a resample name"):
        load_vector(tmp_path / "bad.safetensors")


def test_a_run_evaluates_the_resamples_and_reports_how_stable_the_verdict_is(resampled, tmp_path: Path) -> None:
    """The resamples run as further vectors of the sweep, never as rows of their own; the vector's rows say
    how far their effects spread and how often their verdict is the vector's."""
    import pandas as pd

    output = tmp_path / "run"
    code = main(["--model", "demo", "--vectors", str(resampled[1]), "--tasks", "demo_sentiment", "--alphas", "0.5,1",
                 "--controls", "random:1", "--output", str(output)])  # fmt: skip
    assert code == 0
    effects = pd.read_csv(output / "effects.csv")
    assert not effects.vector.str.startswith("resample ").any(), "resamples never get rows of their own"
    mine = effects[~effects.is_control].set_index("alpha")
    strong = mine.loc[1.0]
    assert strong.verdict == "helps" and strong.resamples == 3 and strong.verdict_stability == 1.0
    assert 0.15 < strong.resample_delta_low <= strong.resample_delta_high < 0.45
    assert strong.cosine_resample_mean > 0.9
    cells = pd.read_csv(output / "cells.csv")
    assert cells.vector.str.startswith("resample ").sum() == 6, "3 resamples x 2 strengths were computed"
    results = json.loads((output / "results.json").read_text())
    assert {row["vector"] for row in results["layer_profile"]} == {"resampled.safetensors"}, "no resample profiles"
    assert {row["vector"] for row in results["sample_size"]} == {"resampled.safetensors"}
    assert "How many training items" in (output / "report.html").read_text()


def test_the_sample_size_curve_says_where_the_direction_settles(resampled, capsys) -> None:
    """Subsets of 8, 16, ... of the 672 training items: PASf's mood direction is rough from 8 items and
    settled well before the largest subset, and `vectors show` says from where."""
    curve = load_vector(resampled[1]).meta.extra["resamples"]["sample_size"]
    assert curve["total"] == 672 and curve["sizes"] == [8, 16, 32, 64, 128, 256]
    assert curve["keys"] == ["resid.2"] and all(len(draws) == 3 for draws in curve["cosine_to_full"])
    means = curve["cosine_to_full_mean"]
    assert means[0] < 0.85 < 0.95 < means[-1], means
    settled = curve["settled_at"]
    assert settled is not None and settled < 256
    assert all(m >= 0.9 for size, m in zip(curve["sizes"], means, strict=True) if size >= settled)
    assert main(["vectors", "show", str(resampled[1])]) == 0
    assert f"the direction settles at about {settled} of 672 training items" in capsys.readouterr().out


def test_a_weak_behaviour_read_from_few_items_has_a_less_stable_verdict(demo_dir, tmp_path: Path) -> None:
    """From 8 training items each: the strong planted behaviour (mood) keeps its verdict in every resample at
    strengths near its threshold, the weaker one (flattery) does not (measured: 0.2 to 1.0)."""
    import pandas as pd

    paths = {}
    for task in ("demo_sentiment", "demo_sycophancy"):
        paths[task] = tmp_path / f"{task}.safetensors"
        assert main(["vectors", "build", "--method", "pasf", "--model", "demo", "--task", task, "--layers", "1-2",
                     "--max-items", "8", "--select-on", "validation", "--strengths", "0.5,1", "--batch-size", "32",
                     "--resamples", "5", "-o", str(paths[task])]) == 0  # fmt: skip
    output = tmp_path / "run"
    assert main(["--model", "demo", "--vectors", *map(str, paths.values()), "--tasks", "demo_sentiment,demo_sycophancy",
                 "--alphas", "0.75,1,1.25", "--controls", "random:1", "--output", str(output)]) == 0  # fmt: skip
    effects = pd.read_csv(output / "effects.csv")
    own = effects[~effects.is_control & (effects.vector == effects.task + ".safetensors")].set_index("task")
    strong, weak = own.loc["demo_sentiment"], own.loc["demo_sycophancy"]
    assert (strong.verdict == "helps").all() and (strong.verdict_stability == 1.0).all()
    assert weak.verdict_stability.min() <= 0.6, weak.verdict_stability.tolist()
    assert (weak.resample_delta_high - weak.resample_delta_low).max() > 0.2, "the weak one's effects spread widely"
