"""The command line: `vectors show|import|export`, and bad input as one clear line with exit code 2."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from steer_eval.cli import main
from steer_eval.errors import EXIT_BAD_INPUT
from steer_eval.vectors.format import SiteKey, SteeringVector, VectorMeta, file_sha256, load_vector, save_vector
from steer_eval.vocab import Site


@pytest.fixture
def vector_file(tmp_path: Path) -> Path:
    vector = SteeringVector(
        {SiteKey(Site.RESID, 1): torch.full((32,), 0.5), SiteKey(Site.RESID, 2): torch.ones(32)},
        VectorMeta(method="caa", model_name="tiny-llama", default_alpha=4.0, extra={"n_pairs": 12}),
    )
    return save_vector(vector, tmp_path / "bias.safetensors")


def test_show_prints_metadata_norms_and_sha256(vector_file: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["vectors", "show", str(vector_file)]) == 0
    out = capsys.readouterr().out
    assert file_sha256(vector_file) in out
    assert "resid.1" in out and "2.8284" in out and "5.6569" in out  # per-layer norms
    assert "caa" in out and "tiny-llama" in out and "n_pairs" in out
    assert main(["vectors", "show", str(vector_file), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["tensors"]["resid.2"]["norm"] == pytest.approx(32**0.5)
    assert info["default_alpha"] == 4.0


def test_import_export_round_trip(
    tiny_dir: Path, vector_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    pt = tmp_path / "bias.pt"
    assert main(["vectors", "export", str(vector_file), "-o", str(pt), "--model", str(tiny_dir), "--alpha", "2"]) == 0
    raw = torch.load(pt, weights_only=True)
    assert sorted(raw) == ["layers.1", "layers.2"] and raw["layers.1"]["steering_coefficient"] == 2.0
    back = tmp_path / "back.safetensors"
    assert main(["vectors", "import", str(pt), "-o", str(back), "--model", str(tiny_dir)]) == 0
    vector = load_vector(back)
    assert vector.meta.default_alpha == 2.0 and vector.meta.model_name == str(tiny_dir)
    assert torch.equal(vector.directions[SiteKey(Site.RESID, 1)], torch.full((32,), 0.5))


def bad_inputs(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    """name -> (argv, text the one-line message must contain)."""
    wrong_size = save_vector(SteeringVector({SiteKey(Site.RESID, 0): torch.ones(48)}), tmp_path / "wide.safetensors")
    deep = save_vector(SteeringVector({SiteKey(Site.RESID, 30): torch.ones(32)}), tmp_path / "deep.safetensors")
    nan = tmp_path / "nan.safetensors"
    save_file({"resid.0": torch.tensor([float("nan")] * 32)}, str(nan), metadata={"steer_eval": "{}"})
    inf = tmp_path / "inf.safetensors"
    save_file({"resid.0": torch.tensor([float("inf")] * 32)}, str(inf), metadata={"steer_eval": "{}"})
    site = tmp_path / "site.safetensors"
    save_file({"embedding.0": torch.ones(32)}, str(site), metadata={"steer_eval": "{}"})
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"\x00\x01garbage")
    text = tmp_path / "vector.txt"
    text.write_text("0.1 0.2 0.3")
    pickled = tmp_path / "pickled.pt"
    torch.save({"layers.0": {"steering_vector": torch.ones(32), "action": "add", "bias": Path("/tmp")}}, pickled)
    torch.save({"layers.0": {"steering_vector": torch.ones(32), "action": "add"}}, tmp_path / "ok.pt")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes((tmp_path / "ok.pt").read_bytes()[:300])
    return {
        "wrong hidden size": (["vectors", "show", str(wrong_size), "--model", "{model}"], "size 48"),
        "layer out of range": (["vectors", "show", str(deep), "--model", "{model}"], "layer 30"),
        "NaN values": (["vectors", "show", str(nan)], "NaN/Inf"),
        "Inf values": (["vectors", "show", str(inf)], "NaN/Inf"),
        "unknown site": (["vectors", "show", str(site)], "not a steer-eval site name"),
        "corrupt file": (["vectors", "show", str(corrupt)], "not a readable safetensors file"),
        "not safetensors": (["vectors", "show", str(text)], "unknown vector file type"),
        "missing file": (["vectors", "show", str(tmp_path / "absent.safetensors")], "not found"),
        "pickled .pt": (["vectors", "show", str(pickled)], "pickled Python objects"),
        "truncated .pt": (["vectors", "show", str(truncated)], "not a readable PyTorch file"),
        "unwritable output": (
            ["vectors", "import", str(pickled.with_name("ok.pt")), "-o", "/proc/x.safetensors"],
            "/proc",
        ),
        "export without model": (
            ["vectors", "export", str(deep), "-o", str(tmp_path / "x.pt"), "--model", str(tmp_path)],
            "cannot read the model config",
        ),
    }


def test_each_bad_input_is_one_clear_line(tiny_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    for name, (argv, expected) in bad_inputs(tmp_path).items():
        argv = [a.replace("{model}", str(tiny_dir)) for a in argv]
        assert main(argv) == EXIT_BAD_INPUT, name
        err = capsys.readouterr().err.strip()
        assert err.startswith("steer-eval: error: ") and expected in err, f"{name}: {err}"
        assert "\n" not in err and "Traceback" not in err, name


def test_console_script_exits_non_zero_without_traceback(tmp_path: Path) -> None:
    exe = shutil.which("steer-eval", path=str(Path(sys.executable).parent)) or shutil.which("steer-eval")
    if exe is None:
        pytest.skip("the steer-eval console script is not installed in this environment")
    pickled = tmp_path / "pickled.pt"
    torch.save({"layers.0": {"steering_vector": torch.ones(4), "bias": Path("/tmp")}}, pickled)
    result = subprocess.run([exe, "vectors", "show", str(pickled)], capture_output=True, text=True, timeout=120)
    assert result.returncode == EXIT_BAD_INPUT
    assert "pickled Python objects" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--model", "demo", "--vectrs", "v.safetensors"], "unknown option --vectrs (did you mean --vectors?)"),
        (["--modle", "demo"], "unknown option --modle (did you mean --model?)"),
        (["report", "run", "--ouput", "x.html"], "unknown option --ouput (did you mean --output?)"),
        (["vectors", "build", "--methd", "caa"], "unknown option --methd (did you mean --method?)"),
        (["--model", "demo", "--zzzz"], "unknown option --zzzz; see steer-eval --help"),
    ],
)
def test_a_misspelt_option_is_named_with_the_option_meant(argv: list[str], expected: str, capsys) -> None:
    # argparse alone sends a misspelt option's value to the next positional ("invalid choice: 'v.safetensors'")
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == EXIT_BAD_INPUT
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("steer-eval") and last.endswith(f": error: {expected}"), last


def test_a_damaged_manifest_is_named_as_damaged_not_as_a_foreign_folder(tmp_path: Path, capsys) -> None:
    from synthetic_run import SyntheticRun

    run = SyntheticRun(tmp_path / "run")
    run.finish()
    (tmp_path / "run" / "manifest.json").write_text('{"model": {"name": "x"}, "grid": {"cel')  # torn
    assert main(["analyze", str(tmp_path / "run")]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip()
    assert "manifest.json is damaged (is not valid JSON); rerun the run's command with --output" in err, err
    (tmp_path / "run" / "manifest.json").unlink()
    assert main(["analyze", str(tmp_path / "run")]) == EXIT_BAD_INPUT
    assert "is not a steer-eval run folder (it has no manifest.json)" in capsys.readouterr().err


def test_a_run_whose_manifest_was_damaged_resumes_keeping_its_cells(mood_vector: Path, tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    argv = ["--model", "demo", "--vectors", str(mood_vector), "--tasks", "demo_sentiment", "--alphas", "1",
            "--limit", "12", "--device", "cpu", "--output", str(run)]  # fmt: skip
    assert main(argv) == 0
    cells = {p.name: p.stat().st_mtime_ns for p in (run / "cells").glob("*.json")}
    (run / "manifest.json").write_text('{"model": {"na')  # a write cut short (a full disk)
    capsys.readouterr()
    assert main(["analyze", str(run)]) == EXIT_BAD_INPUT  # what analyze advises must work:
    assert f"rerun the run's command with --output {run}" in capsys.readouterr().err
    assert main(argv) == 0  # not refused as a foreign folder
    err = capsys.readouterr().err
    assert "manifest.json was damaged (not valid JSON) and is rewritten" in err, err
    assert {p.name: p.stat().st_mtime_ns for p in (run / "cells").glob("*.json")} == cells  # none recomputed
    assert json.loads((run / "manifest.json").read_text())["grid"]["cells"]


def test_samples_on_tasks_that_do_not_generate_get_a_note(mood_vector: Path, tmp_path: Path, capsys) -> None:
    argv = ["--model", "demo", "--vectors", str(mood_vector), "--tasks", "demo_sentiment", "--samples", "4",
            "--temperature", "0.7", "--output", str(tmp_path / "run"), "--dry-run"]  # fmt: skip
    assert main(argv) == 0
    assert "--samples 4 draws texts, and none of these tasks generates: it changes nothing" in capsys.readouterr().err
    assert main([*argv[:5], "demo_mood_gen", *argv[6:]]) == 0
    assert "none of these tasks generates" not in capsys.readouterr().err
