"""Interactions of vectors applied together (`--combine`): each combination is paired with the single cells
at exactly the layers at which it applied its members (recorded in its cell), never with another layer's
singles; a combination that cannot be matched so is skipped with a note. Run stores are synthetic (known
per-item outcomes) but written and read through the real run store."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from synthetic_run import SyntheticRun, records, task_ref, vector_ref

from steer_eval.analysis import analyze
from steer_eval.analysis.interactions import interaction_rows
from steer_eval.analysis.load import _cell
from steer_eval.analysis.summary import plain_words
from steer_eval.run.grid import Cell, VectorRef

A, B = vector_ref("a.safetensors"), vector_ref("b.safetensors")


def combination(layers: tuple[int | None, ...] = (1, 2)) -> VectorRef:
    identity = "sha-combo-" + "-".join(map(str, layers))
    return VectorRef(
        "a.safetensors + b.safetensors", "a;b", identity, members=(A.sha256, B.sha256), member_layers=layers
    )


def _raise(base: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """`base` with the chosen items answered right."""
    out = base.copy()
    out[chosen] = 1.0
    return out


def _zero_interaction_run(root: Path) -> SyntheticRun:
    """A at layer 1 and B at layer 2 (where the combination applies them) each fix their own disjoint
    items, and together they fix exactly both sets: the interaction is 0 on every item. The same vectors
    at the other layer do something else (A at 2 breaks items, B at 1 fixes more)."""
    rng = np.random.default_rng(1)
    n, task = 300, task_ref("beh")
    base = (rng.random(n) < 0.4).astype(float)
    wrong = np.flatnonzero(base == 0)
    rng.shuffle(wrong)
    fixed_a, fixed_b, fixed_b_other = wrong[:40], wrong[40:70], wrong[:120]
    right = np.flatnonzero(base == 1)
    broken_a_other = base.copy()
    broken_a_other[right[:50]] = 0.0
    run = SyntheticRun(root)
    run.add(Cell(task, 0, 0), base)
    run.add(Cell(task, 0, 0, A, 2.0, 1), _raise(base, fixed_a))
    run.add(Cell(task, 0, 0, B, 2.0, 1), _raise(base, fixed_b_other))
    run.add(Cell(task, 0, 0, A, 2.0, 2), broken_a_other)
    run.add(Cell(task, 0, 0, B, 2.0, 2), _raise(base, fixed_b))
    run.add(Cell(task, 0, 0, combination(), 2.0, None), _raise(base, np.concatenate([fixed_a, fixed_b])))
    return run


def test_combination_pairs_with_the_singles_at_its_members_layers(tmp_path: Path) -> None:
    run = _zero_interaction_run(tmp_path / "run")
    run.finish()
    analysis = analyze(tmp_path / "run")
    assert len(analysis.interactions) == 1
    row = analysis.interactions.iloc[0]
    assert row.interaction == pytest.approx(0.0, abs=1e-12) and row.ci_low <= 0 <= row.ci_high
    assert row.combined_delta == pytest.approx(70 / 300) and row.sum_of_singles == pytest.approx(70 / 300)
    assert row.member_layers == "a.safetensors @ layer 1, b.safetensors @ layer 2"
    singles = analysis.effects.set_index("cell").loc[list(row.single_cells)]
    assert list(singles.layer) == [1, 2] and list(singles.vector) == ["a.safetensors", "b.safetensors"]
    assert not any("interaction" in note for note in analysis.notes)


def _known_interaction_cells(rng: np.random.Generator, n: int) -> tuple[list, dict]:
    """Cells whose expected interaction is known. Among items the baseline gets wrong (60%), A fixes each
    with probability 0.25 and B with 0.25, independently; together they fix what either fixes plus 40% of
    the items neither fixes. An item both fix counts twice in the sum of singles but once together (-1);
    an extra item counts +1: E[I] = 0.6 * (-0.25 * 0.25 + 0.75 * 0.75 * 0.4) = 0.0975. Singles at another
    layer (where the combination did not apply them) do nothing."""
    task = task_ref("beh")
    base = (rng.random(n) < 0.4).astype(float)
    wrong = base == 0
    by_a, by_b, extra = (wrong & (rng.random(n) < p) for p in (0.25, 0.25, 0.4))
    together = base.copy()
    together[by_a | by_b | (extra & ~by_a & ~by_b)] = 1.0
    cells = [
        (Cell(task, 0, 0), base),
        (Cell(task, 0, 0, A, 2.0, 1), _raise(base, by_a)),
        (Cell(task, 0, 0, B, 2.0, 2), _raise(base, by_b)),
        (Cell(task, 0, 0, A, 2.0, 2), base),
        (Cell(task, 0, 0, B, 2.0, 1), base),
        (Cell(task, 0, 0, combination(), 2.0, None), together),
    ]
    return cells, {"expected": 0.6 * (-0.25 * 0.25 + 0.75 * 0.75 * 0.4)}


def test_a_known_interaction_is_reported_with_an_interval_covering_it(tmp_path: Path) -> None:
    cells, truth = _known_interaction_cells(np.random.default_rng(7), 800)
    run = SyntheticRun(tmp_path / "run")
    for cell, correct in cells:
        run.add(cell, correct)
    run.finish()
    row = analyze(tmp_path / "run").interactions.iloc[0]
    assert row.ci_low <= truth["expected"] <= row.ci_high
    assert row.ci_low > 0 and row.p_value < 0.001  # 0.0975 with n = 800 is far from 0
    assert row.interaction == pytest.approx(row.combined_delta - row.sum_of_singles)


def test_interaction_intervals_cover_the_known_value_at_their_level() -> None:
    """Over 300 simulated runs the 95% interval covers E[I] in about 95% of them (at least 92%: binomial
    sampling error of 300 draws is 1.3 points)."""
    rng = np.random.default_rng(11)
    covered = 0
    for _ in range(300):
        cells, truth = _known_interaction_cells(rng, 300)
        data = [_cell(f"k{i}", {"cell": c.describe(), "records": records(y)}) for i, (c, y) in enumerate(cells)]
        rows, _ = interaction_rows(data, {data[0].group: data[0]}, 0.95)
        covered += rows[0]["ci_low"] <= truth["expected"] <= rows[0]["ci_high"]
    assert covered / 300 >= 0.92


def test_a_combination_that_cannot_be_matched_is_skipped_with_a_note(tmp_path: Path) -> None:
    # the run has no single of B at layer 3, where this combination applied it
    run = _zero_interaction_run(tmp_path / "missing")
    run.add(Cell(task_ref("beh"), 0, 0, combination((1, 3)), 2.0, None), np.ones(300))
    run.finish()
    analysis = analyze(tmp_path / "missing")
    assert len(analysis.interactions) == 1  # the matched combination only
    assert any("no single cell of b.safetensors at layer 3" in note for note in analysis.notes)
    assert "no single cell of b.safetensors at layer 3" in plain_words(analysis)  # the console says so too
    # a combination cell from before the members' layers were recorded: which singles it applied is unknown
    run = _zero_interaction_run(tmp_path / "old")
    run.finish()
    for path in (tmp_path / "old" / "cells").glob("*.json"):
        content = json.loads(path.read_text())
        if content["cell"]["vector"] and content["cell"]["vector"]["members"]:
            del content["cell"]["vector"]["member_layers"]
            del content["checksum"]  # a cell of that age had none
            path.write_text(json.dumps(content))
    analysis = analyze(tmp_path / "old")
    assert analysis.interactions.empty
    assert any("does not record the layers" in note for note in analysis.notes)


def test_runner_records_the_layers_a_combination_applies_and_the_analysis_pairs_them(tiny_dir, tmp_path) -> None:
    """On the tiny model with --layers 1,2 and --combine: vector a's default layer is 1, b's is 2, so the
    combination applies a at 1 and b at 2; its cell says so, the interventions are exactly there, and the
    interaction row pairs with a's layer-1 and b's layer-2 singles (not the other layer's)."""
    import torch

    from steer_eval.run.config import RunConfig
    from steer_eval.run.execute import interventions_for
    from steer_eval.run.main import run
    from steer_eval.run.prepare import prepare
    from steer_eval.vectors.format import SiteKey, SteeringVector, VectorMeta, save_vector
    from steer_eval.vocab import Site

    torch.manual_seed(0)
    paths = []
    for name, default in (("a.safetensors", 1), ("b.safetensors", 2)):
        directions = {SiteKey(Site.RESID, layer): torch.randn(32) for layer in (0, 1, 2)}
        vector = SteeringVector(directions, VectorMeta(per_layer=True, default_layer=default))
        paths.append(save_vector(vector, tmp_path / name))
    settings = dict(model=str(tiny_dir), vectors=paths, tasks=["demo_sentiment"], alphas=[4.0], layers=[1, 2],
                    combine=True, limit=8, device="cpu", output=tmp_path / "run")  # fmt: skip
    prepared = prepare(RunConfig(**settings), progress=False)
    combo = next(cell for cell in prepared.cells if cell.vector is not None and cell.vector.members)
    assert combo.vector.member_layers == (1, 2)
    assert [i.key.layer for i in interventions_for(prepared, combo)] == [1, 2]
    assert not prepared.user_warnings or not any("--combine" in w for w in prepared.user_warnings)
    leaving_out = prepare(RunConfig(**{**settings, "layers": [0, 1]}), progress=False).user_warnings
    assert any("b.safetensors at its default layer 2, which --layers 0,1 leaves out" in w for w in leaving_out)

    result = run(RunConfig(**settings), progress=False)
    stored = [json.loads(p.read_text())["cell"] for p in (tmp_path / "run" / "cells").glob("*.json")]
    assert [c["vector"]["member_layers"] for c in stored if c["vector"] and c["vector"]["members"]] == [[1, 2]]
    row = result.analysis.interactions.iloc[0]
    assert row.member_layers == "a.safetensors @ layer 1, b.safetensors @ layer 2"
    singles = result.analysis.effects.set_index("cell").loc[list(row.single_cells)]
    assert list(zip(singles.vector, singles.layer, strict=True)) == [("a.safetensors", 1), ("b.safetensors", 2)]
    assert row.sum_of_singles == pytest.approx(singles.delta.sum())
