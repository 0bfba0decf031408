"""A run folder you can trust (issue 22, integrity): every cell carries a checksum of its content. A cell that
was altered (still valid JSON), truncated, holds a non-UTF-8 byte, or lacks what the analysis reads is never
used and never dropped silently: `analyze` and `report` refuse in one line naming it, and the main job
recomputes it (saying so) and ends where an undamaged run ends. Cells written before checksums still read."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from steer_eval.cli import main
from steer_eval.errors import EXIT_BAD_INPUT


def _args(vector: Path, output: Path) -> list[str]:
    return ["--model", "demo", "--vectors", str(vector), "--tasks", "demo_sentiment,demo_facts", "--alphas", "1,2",
            "--limit", "24", "--device", "cpu", "--output", str(output)]  # fmt: skip


@pytest.fixture(scope="module")
def finished(demo_dir, mood_vector, tmp_path_factory) -> tuple[Path, Path, pd.DataFrame]:
    root, vector = tmp_path_factory.mktemp("integrity"), mood_vector
    assert main(_args(vector, root / "run")) == 0
    return vector, root / "run", pd.read_csv(root / "run" / "effects.csv")


def _altered(text: str) -> str:
    """One record's answer flipped from wrong to right: still valid JSON, another result."""
    assert '"correct": 0.0' in text
    return text.replace('"correct": 0.0', '"correct": 1.0', 1)


DAMAGE = {
    "altered": (lambda raw: _altered(raw.decode()).encode(), "does not match its checksum"),
    "truncated": (lambda raw: raw[: len(raw) // 2], "not complete JSON"),
    "not utf-8": (lambda raw: raw.replace(b'"records"', b'"rec\xffords"', 1), "not UTF-8"),
    "a record lacks its id": (lambda raw: raw.replace(b'"item_id"', b'"item"', 1), "has no `item_id`"),
}


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_a_damaged_cell_is_refused_by_the_readers_and_recomputed_by_the_job(finished, tmp_path: Path, capsys, kind):
    import shutil

    vector, original, expected = finished
    run = tmp_path / "run"
    shutil.copytree(original, run)
    cell = next(p for p in sorted((run / "cells").glob("*.json")) if '"correct": 0.0' in p.read_text())
    damage, words = DAMAGE[kind]
    cell.write_bytes(damage(cell.read_bytes()))
    capsys.readouterr()
    for verb in ("analyze", "report"):
        assert main([verb, str(run)]) == EXIT_BAD_INPUT
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "1 cell(s) damaged" in err and cell.name in err and words in err, err
        assert "rerun the same command to recompute them" in err
    assert main(_args(vector, run)) == 0
    captured = capsys.readouterr()
    assert f"recomputing 1 damaged cell(s) ({cell.name}: " in captured.err and "1 computed here" in captured.out
    pd.testing.assert_frame_equal(pd.read_csv(run / "effects.csv"), expected)


def test_cells_written_before_checksums_still_read(finished, tmp_path: Path) -> None:
    import shutil

    _, original, expected = finished
    run = tmp_path / "run"
    shutil.copytree(original, run)
    for path in (run / "cells").glob("*.json"):
        content = json.loads(path.read_text())
        assert len(content.pop("checksum")) == 64
        path.write_text(json.dumps(content))
    assert main(["analyze", str(run)]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(run / "effects.csv"), expected)


@pytest.mark.parametrize(("extra", "words"), [(("--dtype", "float32"), "holds a run with --dtype auto"),
                                              (("--model-args", "max_length=64"), "--model-args (none)")])  # fmt: skip
def test_a_writer_with_other_settings_is_refused_before_any_compute(finished, tmp_path, capsys, extra, words) -> None:
    """Another dtype or other model args in the same folder would give cells that do not compare, and leave
    the folder's results describing only the last writer's grid: refused in one line, nothing touched."""
    import shutil

    vector, original, _ = finished
    run = tmp_path / "run"
    shutil.copytree(original, run)
    before = {p.name: p.read_bytes() for p in (run / "cells").glob("*.json")}
    assert main([*_args(vector, run), *extra]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err and "use another --output folder" in err, err
    assert {p.name: p.read_bytes() for p in (run / "cells").glob("*.json")} == before
