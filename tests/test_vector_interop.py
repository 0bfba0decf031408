"""Vectors made elsewhere in, ours out: llama.cpp / repeng GGUF control vectors, the CAA and PAS reference
code's bare per-layer tensors, lm-eval's steered .pt. Every import -> export -> import is lossless, and
nothing is unpickled beyond tensors and plain values."""

from __future__ import annotations

import collections
from pathlib import Path

import gguf
import numpy as np
import pytest
import torch

from steer_eval.cli import main
from steer_eval.errors import EXIT_BAD_INPUT, VectorFileError, VectorMismatchError
from steer_eval.steering.loading import load_interventions
from steer_eval.steering.model_map import ModelMap
from steer_eval.vectors.files import read_vector_file, read_vector_files
from steer_eval.vectors.format import SiteKey, SteeringVector, VectorMeta, load_vector, save_vector
from steer_eval.vectors.gguf_io import read_gguf, write_gguf
from steer_eval.vocab import Action, PositionMode, Site


def _repeng_gguf(path: Path, directions: dict[int, np.ndarray], hint: str = "llama") -> Path:
    """A control vector written the way repeng's ControlVector.export_gguf writes one."""
    writer = gguf.GGUFWriter(str(path), "controlvector")
    writer.add_string("controlvector.model_hint", hint)
    writer.add_uint32("controlvector.layer_count", len(directions))
    for layer, values in directions.items():
        writer.add_tensor(f"direction.{layer}", values.astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_gguf_import_export_import_is_lossless(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    original = {1: rng.standard_normal(32), 2: rng.standard_normal(32)}
    first = read_vector_file(_repeng_gguf(tmp_path / "happy.gguf", original))
    assert first.keys == [SiteKey(Site.RESID, 1), SiteKey(Site.RESID, 2)] and not first.meta.per_layer
    assert first.meta.model_name == "llama" and first.meta.positions is PositionMode.ALL
    save_vector(first, tmp_path / "happy.safetensors")
    write_gguf(load_vector(tmp_path / "happy.safetensors"), tmp_path / "again.gguf", "llama")
    second = read_gguf(tmp_path / "again.gguf")
    for layer, values in original.items():
        key = SiteKey(Site.RESID, layer)
        torch.testing.assert_close(second.directions[key], torch.from_numpy(values.astype(np.float32)), rtol=0, atol=0)
    reader = gguf.GGUFReader(str(tmp_path / "again.gguf"))
    assert sorted(t.name for t in reader.tensors) == ["direction.1", "direction.2"]


def test_gguf_export_folds_the_strength_and_refuses_what_llama_cpp_cannot_do(tmp_path: Path) -> None:
    vector = SteeringVector({SiteKey(Site.RESID, 3): torch.ones(8)}, VectorMeta(default_alpha=2.5))
    write_gguf(vector, tmp_path / "v.gguf", "llama")
    torch.testing.assert_close(read_gguf(tmp_path / "v.gguf").directions[SiteKey(Site.RESID, 3)], torch.full((8,), 2.5))
    refusals = {
        "block 0": SteeringVector({SiteKey(Site.RESID, 0): torch.ones(8)}),
        "block outputs only": SteeringVector({SiteKey(Site.MLP, 2): torch.ones(8)}),
        "only add": SteeringVector({SiteKey(Site.RESID, 2): torch.ones(8)}, VectorMeta(action=Action.AU_SCALE)),
    }
    for message, bad in refusals.items():
        with pytest.raises(VectorFileError, match=message):
            write_gguf(bad, tmp_path / "bad.gguf", "llama")


def test_gguf_of_another_kind_or_corrupt_is_refused(tmp_path: Path) -> None:
    writer = gguf.GGUFWriter(str(tmp_path / "model.gguf"), "llama")
    writer.add_tensor("token_embd.weight", np.zeros((4, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(VectorFileError, match="not a control vector"):
        read_gguf(tmp_path / "model.gguf")
    (tmp_path / "junk.gguf").write_bytes(b"GGUF" + b"\x00" * 10)
    with pytest.raises(VectorFileError, match="not a readable GGUF"):
        read_gguf(tmp_path / "junk.gguf")


def test_caa_per_layer_files_import_as_one_per_layer_vector(tmp_path: Path) -> None:
    folder = tmp_path / "vectors" / "sycophancy"
    folder.mkdir(parents=True)
    tensors = {layer: torch.randn(32, dtype=torch.float16) for layer in (12, 13, 14)}
    for layer, tensor in tensors.items():  # generate_vectors.py: t.save(vec, vec_layer_{L}_{model}.pt)
        torch.save(tensor, folder / f"vec_layer_{layer}_Llama-2-7b-chat-hf.pt")
    vector = read_vector_files(sorted(folder.glob("*.pt")), source="auto")
    assert vector.meta.per_layer and vector.layers == [12, 13, 14] and vector.meta.default_layer == 13
    assert vector.meta.model_name == "Llama-2-7b-chat-hf" and vector.meta.positions is PositionMode.GENERATED
    for layer, tensor in tensors.items():
        torch.testing.assert_close(vector.directions[SiteKey(Site.RESID, layer)], tensor.float())
    save_vector(vector, tmp_path / "syco.safetensors")
    for layer in (12, 14):  # export one layer at a time, re-import: the same numbers
        write_gguf(load_vector(tmp_path / "syco.safetensors"), tmp_path / f"l{layer}.gguf", "llama", layer=layer)
        back = read_gguf(tmp_path / f"l{layer}.gguf")
        torch.testing.assert_close(back.directions[SiteKey(Site.RESID, layer)], tensors[layer].float(), rtol=0, atol=0)


def test_pas_vector_file_import(tmp_path: Path) -> None:
    tensor = torch.randn(32)
    torch.save(tensor, tmp_path / "iBAS_all_layer14_strength4.0.pt")
    vector = read_vector_file(tmp_path / "iBAS_all_layer14_strength4.0.pt")
    assert vector.meta.method == "ipasa" and vector.meta.default_alpha == 4.0 and vector.layers == [14]
    assert vector.meta.positions is PositionMode.LAST_PROMPT and vector.meta.read_site.startswith("resid_pre")
    torch.save(tensor, tmp_path / "BAS_full_mcq_layer9_strength_best.pt")
    best = read_vector_file(tmp_path / "BAS_full_mcq_layer9_strength_best.pt")
    assert best.meta.method == "pasf" and best.meta.default_alpha == 1.0 and best.layers == [9]


def test_bare_tensor_without_a_known_name_needs_a_layer(tmp_path: Path) -> None:
    torch.save(torch.randn(32), tmp_path / "mine.pt")
    with pytest.raises(VectorFileError, match=r"--from caa\|pas --layer L"):
        read_vector_file(tmp_path / "mine.pt")
    vector = read_vector_files([tmp_path / "mine.pt"], source="caa", layer=5)
    assert vector.layers == [5]


class Payload:  # anything beyond tensors and plain values must never be unpickled
    def __reduce__(self):
        return (print, ("unpickled!",))


def test_pickled_objects_are_refused_in_every_pt_format(tmp_path: Path) -> None:
    torch.save(Payload(), tmp_path / "vec_layer_3_x.pt")
    torch.save({"layers.3": {"steering_vector": Payload()}}, tmp_path / "steer.pt")
    for path in (tmp_path / "vec_layer_3_x.pt", tmp_path / "steer.pt"):
        with pytest.raises(VectorFileError, match="refused to load"):
            read_vector_file(path)


def test_imported_vectors_apply_to_a_model(tiny_dir: Path, tmp_path: Path) -> None:
    model_map = ModelMap.from_config_only(str(tiny_dir))
    _repeng_gguf(tmp_path / "v.gguf", {1: np.ones(32), 2: np.ones(32)})
    interventions = load_interventions([tmp_path / "v.gguf"], model_map)
    assert [i.key for i in interventions] == [SiteKey(Site.RESID, 1), SiteKey(Site.RESID, 2)]
    torch.save(torch.ones(32), tmp_path / "vec_layer_2_tiny.pt")
    assert [i.key for i in load_interventions([tmp_path / "vec_layer_2_tiny.pt"], model_map)] == [
        SiteKey(Site.RESID, 2)
    ]
    _repeng_gguf(tmp_path / "wide.gguf", {1: np.ones(64)})
    with pytest.raises(VectorMismatchError, match="64"):
        load_interventions([tmp_path / "wide.gguf"], model_map)


def test_cli_import_and_export_across_formats(tiny_dir: Path, tmp_path: Path, capsys) -> None:
    for layer in (1, 2):
        torch.save(torch.full((32,), float(layer)), tmp_path / f"vec_layer_{layer}_tiny.pt")
    files = [str(tmp_path / f"vec_layer_{layer}_tiny.pt") for layer in (1, 2)]
    assert main(["vectors", "import", *files, "-o", str(tmp_path / "caa.safetensors"), "--model", str(tiny_dir)]) == 0
    assert "one layer at a time" in capsys.readouterr().out
    assert (
        main(["vectors", "export", str(tmp_path / "caa.safetensors"), "-o", str(tmp_path / "caa.gguf"), "--layer", "2"])
        == 0
    )
    assert main(["vectors", "import", str(tmp_path / "caa.gguf"), "-o", str(tmp_path / "back.safetensors")]) == 0
    back = load_vector(tmp_path / "back.safetensors")
    torch.testing.assert_close(back.directions[SiteKey(Site.RESID, 2)], torch.full((32,), 2.0))
    assert (
        main(
            [
                "vectors",
                "export",
                str(tmp_path / "caa.safetensors"),
                "-o",
                str(tmp_path / "caa.pt"),
                "--model",
                str(tiny_dir),
            ]
        )
        == 0
    )
    entries = torch.load(tmp_path / "caa.pt", weights_only=True)
    assert len(entries) == 1  # the chosen layer of a per-layer vector, not all of them at once
    capsys.readouterr()
    assert (
        main(["vectors", "export", str(tmp_path / "caa.safetensors"), "-o", str(tmp_path / "caa.npy")])
        == EXIT_BAD_INPUT
    )
    assert (
        main(["vectors", "export", str(tmp_path / "caa.safetensors"), "-o", str(tmp_path / "x.pt")]) == EXIT_BAD_INPUT
    )
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2 and all(line.startswith("steer-eval: error:") for line in errors)
    assert collections.Counter("needs --model" in line for line in errors)[True] == 1


def test_malformed_gguf_tensors_are_refused(tmp_path: Path) -> None:
    _repeng_gguf(tmp_path / "two_d.gguf", {1: np.ones((2, 16))})
    with pytest.raises(VectorFileError, match="1-D"):
        read_gguf(tmp_path / "two_d.gguf")
    writer = gguf.GGUFWriter(str(tmp_path / "dup.gguf"), "controlvector")
    writer.add_tensor("direction.1", np.ones(8, dtype=np.float32))
    writer.add_tensor("direction.01", np.ones(8, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(VectorFileError, match="twice"):
        read_gguf(tmp_path / "dup.gguf")
