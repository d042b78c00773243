"""Issue 29: an exported ONNX file carries ``metadata_props`` saying how to prepare its inputs and
read its outputs (class names, input scale, mean and std, image size), read back with onnx."""

import json

import numpy as np
import pytest

import ann
from ann.apps.export import export_run

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def test_onnx_file_says_how_to_prepare_its_inputs(tmp_path):
    run_dir = tmp_path / "mlp"
    ann.train("mlp-digits", {"train.max_steps": 3, "train.threads": 1, "train.log_to": "none"},
              out=run_dir, quiet=True)
    path, _ = export_run(run_dir)
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert props["producer"] == "ann" and props["ann_version"] == ann.__version__
    assert props["recipe"] == "mlp-digits" and props["task"] == "classify"
    assert json.loads(props["classes"]) == [str(d) for d in range(10)]
    assert json.loads(props["image_size"]) == 8 and json.loads(props["in_channels"]) == 1
    scale, mean, std = (json.loads(props[k]) for k in ("input_scale", "input_mean", "input_std"))
    assert props["preprocessing"] == "input = (raw / input_scale - input_mean) / input_std"
    # the recipe from the file alone: raw digits (0-16) prepared by its metadata give the
    # probabilities ann gives for the same images
    from sklearn.datasets import load_digits

    raw = load_digits().images[:5].astype(np.float32)                   # (5, 8, 8), 0-16
    x = ((raw / scale - mean) / std)[:, None].astype(np.float32)        # (5, 1, 8, 8)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x})[0]
    run = ann.load(run_dir)
    import torch

    want = run.model.eval()(torch.from_numpy(x)).detach().numpy()
    assert np.allclose(got, want, atol=1e-4)
