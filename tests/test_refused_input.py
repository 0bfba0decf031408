"""Bad input that used to get through, refused before any compute with one line and exit 2 (never a
traceback): non-finite strengths wherever a strength is given, vectors whose applied tensors are all zero
(the run, the gate, the lm-eval model), NaN inside any vector format, and damaged vector files of every
format steer-eval reads."""

from __future__ import annotations

import io
import random
import zipfile
from pathlib import Path

import gguf
import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from steer_eval.cli import main
from steer_eval.errors import EXIT_BAD_INPUT, SteerEvalError, VectorFileError
from steer_eval.steering.loading import load_interventions
from steer_eval.steering.model_map import ModelMap
from steer_eval.vectors.format import METADATA_KEY, SiteKey, SteeringVector, VectorMeta, save_vector
from steer_eval.vocab import Site

HIDDEN = 32  # the tiny test model's width (tests/tiny.py)


def _one_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("steer-eval: error:"), lines
    return lines[0]


def _vector(path: Path, layers: dict[int, torch.Tensor], per_layer: bool = False, default_layer=None) -> Path:
    directions = {SiteKey(Site.RESID, layer): tensor for layer, tensor in layers.items()}
    meta = VectorMeta(per_layer=per_layer, default_layer=default_layer)
    return save_vector(SteeringVector(directions, meta), path)


# ---- non-finite strengths ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "2,NaN", "1e999"])
def test_non_finite_alphas_are_refused(tiny_dir: Path, tmp_path: Path, capsys, value: str) -> None:
    vector = _vector(tmp_path / "v.safetensors", {1: torch.ones(HIDDEN)})
    args = ["--model", str(tiny_dir), "--vectors", str(vector), "--tasks", "demo_facts", f"--alphas={value}",
            "--output", str(tmp_path / "run")]  # fmt: skip
    assert main(args) == EXIT_BAD_INPUT
    line = _one_error(capsys)
    assert "--alphas" in line and "not a finite strength" in line
    assert not (tmp_path / "run").exists()  # refused before the run folder is even made


def test_non_finite_strengths_of_build_and_export_are_refused(tmp_path: Path, capsys) -> None:
    build = ["vectors", "build", "--method", "caa", "--model", "demo", "--task", "demo_facts", "--select-on",
             "validation", "--strengths", "1,inf", "-o", str(tmp_path / "b.safetensors")]  # fmt: skip
    assert main(build) == EXIT_BAD_INPUT
    assert "--strengths: 'inf' is not a finite strength" in _one_error(capsys)
    vector = _vector(tmp_path / "v.safetensors", {1: torch.ones(HIDDEN)})
    assert main(["vectors", "export", str(vector), "-o", str(tmp_path / "v.gguf"), "--alpha", "nan"]) == EXIT_BAD_INPUT
    assert "--alpha" in _one_error(capsys) and not (tmp_path / "v.gguf").exists()


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_non_finite_alpha_in_a_check_spec_is_refused(tmp_path: Path, capsys, value: str) -> None:
    vector = _vector(tmp_path / "v.safetensors", {1: torch.ones(HIDDEN)})
    spec = tmp_path / "steering.yaml"
    spec.write_text(f"model: demo\nvectors: {{v: {vector}}}\nexpect:\n"
                    f"  - {{vector: v, task: demo_facts, alpha: {value}, not_worse: {{margin: 0.1}}}}\n")  # fmt: skip
    assert main(["check", str(spec), "--output", str(tmp_path / "out")]) == EXIT_BAD_INPUT
    line = _one_error(capsys)
    assert "expect[0].alpha" in line and "must be a finite number" in line


def test_the_lm_eval_model_refuses_a_non_finite_alpha(tiny_dir: Path, tmp_path: Path) -> None:
    vector = _vector(tmp_path / "v.safetensors", {1: torch.ones(HIDDEN)})
    with pytest.raises(SteerEvalError, match="alpha 'nan' is not a finite strength"):
        load_interventions([vector], ModelMap.from_config_only(str(tiny_dir)), alpha="nan")


# ---- all-zero vectors ----------------------------------------------------------------------------------


def test_an_all_zero_vector_is_refused_by_the_run(tiny_dir: Path, tmp_path: Path, capsys) -> None:
    zero = _vector(tmp_path / "zero.safetensors", {1: torch.zeros(HIDDEN), 2: torch.zeros(HIDDEN)})
    args = ["--model", str(tiny_dir), "--vectors", str(zero), "--tasks", "demo_facts", "--output", str(tmp_path / "r")]
    assert main(args) == EXIT_BAD_INPUT
    line = _one_error(capsys)
    assert str(zero) in line and "every tensor it would apply is zero (resid.1, resid.2)" in line
    assert not list((tmp_path / "r" / "cells").glob("*.json"))


def test_a_per_layer_vector_is_refused_where_its_acting_layer_is_zero(tiny_dir: Path, tmp_path: Path, capsys) -> None:
    """The chosen (e.g. validation-selected) layer's tensor is zero; another layer of the sweep is not."""
    path = _vector(tmp_path / "sweep.safetensors", {1: torch.ones(HIDDEN), 2: torch.zeros(HIDDEN)}, True, 2)
    base = ["--model", str(tiny_dir), "--vectors", str(path), "--tasks", "demo_facts", "--output", str(tmp_path / "r")]
    assert main([*base, "--dry-run"]) == EXIT_BAD_INPUT
    line = _one_error(capsys)
    assert str(path) in line and "at layer 2 is zero (resid.2)" in line and "choose another of its layers" in line
    assert main([*base, "--layers", "1", "--dry-run"]) == 0  # layer 1 steers
    assert main([*base, "--layers", "1,2", "--dry-run"]) == EXIT_BAD_INPUT


def test_an_all_zero_vector_is_refused_by_the_gate_and_the_lm_eval_model(
    tiny_dir: Path, tmp_path: Path, capsys
) -> None:
    zero = _vector(tmp_path / "zero.safetensors", {1: torch.zeros(HIDDEN)})
    spec = tmp_path / "steering.yaml"
    spec.write_text(f"model: {tiny_dir}\nvectors: {{z: {zero}}}\nexpect:\n"
                    "  - {vector: z, task: demo_facts, alpha: 2, not_worse: {margin: 0.1}}\n")  # fmt: skip
    assert main(["check", str(spec), "--output", str(tmp_path / "out")]) == EXIT_BAD_INPUT
    assert "is zero" in _one_error(capsys)
    assert not list((tmp_path / "out").rglob("cells/*.json"))
    with pytest.raises(VectorFileError, match="is zero"):
        load_interventions([zero], ModelMap.from_config_only(str(tiny_dir)))


# ---- NaN inside a vector, every format ----------------------------------------------------------------


def _nan_tensor() -> torch.Tensor:
    tensor = torch.ones(HIDDEN)
    tensor[3] = float("nan")
    return tensor


def _write_gguf(path: Path, tensor: torch.Tensor) -> None:
    writer = gguf.GGUFWriter(str(path), "controlvector")
    writer.add_tensor("direction.1", tensor.numpy().astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


NAN_FILES = {
    "vec_layer_1_tiny.pt": lambda p: torch.save(_nan_tensor(), p),  # CAA
    "iBAS_all_layer1_strength4.0.pt": lambda p: torch.save(_nan_tensor(), p),  # PAS
    "steer.pt": lambda p: torch.save({"layers.1": {"steering_vector": _nan_tensor()}}, p),  # lm-eval
    "control.gguf": lambda p: _write_gguf(p, _nan_tensor()),
    "ours.safetensors": lambda p: save_file({"resid.1": _nan_tensor()}, str(p), metadata={METADATA_KEY: "{}"}),
}


@pytest.mark.parametrize("name", sorted(NAN_FILES))
def test_nan_inside_any_vector_format_is_refused_naming_the_file(
    tiny_dir: Path, tmp_path: Path, capsys, name: str
) -> None:
    path = tmp_path / name
    NAN_FILES[name](path)
    assert main(["vectors", "import", str(path), "-o", str(tmp_path / "out.safetensors")]) == EXIT_BAD_INPUT
    line = _one_error(capsys)
    assert f"{path}: tensor 'resid.1' contains 1 NaN/Inf value(s)" in line
    assert not (tmp_path / "out.safetensors").exists()
    args = ["--model", str(tiny_dir), "--vectors", str(path), "--tasks", "demo_facts", "--output", str(tmp_path / "r")]
    assert main(args) == EXIT_BAD_INPUT
    assert "NaN/Inf" in _one_error(capsys) and not list((tmp_path / "r" / "cells").glob("*.json"))


# ---- damaged files, every format ----------------------------------------------------------------------


def _good(path: Path) -> bytes:
    """The undamaged bytes of a vector file of `path`'s kind."""
    tensor = torch.ones(HIDDEN)
    if path.suffix == ".gguf":
        _write_gguf(path, tensor)
    elif path.suffix == ".safetensors":
        _vector(path, {1: tensor})
    elif path.name == "steer.pt":
        torch.save({"layers.1": {"steering_vector": tensor, "steering_coefficient": 2.0}}, path)
    else:
        torch.save(tensor, path)
    return path.read_bytes()


def _not_torch_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("notes/readme.txt", "a zip archive, but not one torch.save wrote")
    return buffer.getvalue()


DAMAGE = {
    "empty": lambda good: b"",
    "truncated": lambda good: good[: len(good) // 2],
    "cut short": lambda good: good[:-7],
    "random bytes": lambda good: random.Random(0).randbytes(600),
    "zip, not torch": lambda good: _not_torch_zip(),
}
FORMATS = ["vec_layer_1_tiny.pt", "iBAS_all_layer1_strength4.0.pt", "steer.pt", "control.gguf", "ours.safetensors"]


@pytest.mark.parametrize("damage", sorted(DAMAGE))
@pytest.mark.parametrize("name", FORMATS)
def test_damaged_files_are_one_line_and_exit_2(tmp_path: Path, capsys, name: str, damage: str) -> None:
    path = tmp_path / name
    path.write_bytes(DAMAGE[damage](_good(path)))
    for command in (["vectors", "import", str(path), "-o", str(tmp_path / "out.safetensors")],
                    ["vectors", "show", str(path)]):  # fmt: skip
        assert main(command) == EXIT_BAD_INPUT
        line = _one_error(capsys)
        assert str(path) in line
        if damage == "random bytes" and path.suffix == ".pt":
            # damaged bytes are damage, not an attack: the unsafe-pickle refusal would send users astray
            assert "not a readable PyTorch file" in line and "pickled Python objects" not in line
    assert not (tmp_path / "out.safetensors").exists()


PT_CONTENTS = {
    "a string": "hello",
    "a list": [torch.ones(4)],
    "None": None,
    "an int tensor": torch.arange(HIDDEN),
    "a bias that is text": {"layers.1": {"steering_vector": torch.ones(HIDDEN), "action": "clamp", "bias": "x"}},
    "a boolean vector": {"layers.1": {"steering_vector": torch.ones(HIDDEN, dtype=torch.bool)}},
    "a NaN coefficient": {"layers.1": {"steering_vector": torch.ones(HIDDEN), "steering_coefficient": float("nan")}},
}


@pytest.mark.parametrize("content", sorted(PT_CONTENTS))
@pytest.mark.parametrize("name", ["vec_layer_1_tiny.pt", "iBAS_all_layer1_strength4.0.pt", "steer.pt"])
def test_pt_files_holding_the_wrong_things_are_refused(tmp_path: Path, capsys, name: str, content: str) -> None:
    path = tmp_path / name
    torch.save(PT_CONTENTS[content], path)
    assert main(["vectors", "import", str(path), "-o", str(tmp_path / "out.safetensors")]) == EXIT_BAD_INPUT
    assert str(path) in _one_error(capsys)
    assert not (tmp_path / "out.safetensors").exists()


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        ('{"norms": {"resid.1": "5.6"}}', "'norms' holds a value that is not a number"),
        ('{"format_version": "1"}', "'format_version' is '1', not int"),
        ('{"default_alpha": "NaN"}', "'default_alpha' is 'NaN', not int or float"),
        ('{"default_alpha": NaN}', "default strength is nan"),
        ('{"extra": []}', "'extra' is [], not dict"),
        ('{"layers": ["1"]}', "'layers' holds a value that is not a layer number"),
    ],
)
def test_damaged_metadata_is_named(tmp_path: Path, capsys, meta: str, message: str) -> None:
    path = tmp_path / "v.safetensors"
    save_file({"resid.1": torch.ones(HIDDEN)}, str(path), metadata={METADATA_KEY: meta})
    assert main(["vectors", "show", str(path)]) == EXIT_BAD_INPUT
    line = _one_error(capsys)
    assert str(path) in line and message in line, line


def test_an_infinite_strength_in_a_pas_file_name_is_refused(tmp_path: Path, capsys) -> None:
    path = tmp_path / "iBAS_all_layer1_strength1e999.pt"
    torch.save(torch.ones(HIDDEN), path)
    assert main(["vectors", "import", str(path), "-o", str(tmp_path / "out.safetensors")]) == EXIT_BAD_INPUT
    assert "default strength is inf" in _one_error(capsys)
