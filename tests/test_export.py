"""ONNX export: every exportable model, built at its tiny preset, runs in onnxruntime with the
same outputs as in PyTorch (< 1e-4); `ann export` writes RUN_DIR/model.onnx; a model that does
not export says so in one line."""

import numpy as np
import pytest
import torch

import ann
from ann.apps import export
from helpers import ann as ann_cli
from helpers import fails_cleanly

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


def _session(data: bytes):
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def _compare(model, inputs, session):
    feeds = {i.name: t.numpy() for i, t in zip(session.get_inputs(), inputs)}
    got = session.run(None, feeds)[0]
    with torch.no_grad():
        want = model(*inputs)
    assert got.shape == tuple(want.shape)
    assert np.abs(got - want.numpy()).max() < 1e-4


@pytest.mark.parametrize("name", sorted(export.EXPORTS))
def test_exported_model_matches_pytorch(name):
    torch.manual_seed(0)
    model = ann.create_model(name, "tiny")
    inputs = export.export_inputs(model)
    if any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        with torch.no_grad():                  # running statistics that are not the defaults
            model.train()(*inputs)
    model.eval()
    session = _session(export.to_onnx_bytes(model))
    _compare(model, inputs, session)
    if name not in export.FIXED_BATCH:       # the batch dimension is free: try another size
        g = torch.Generator().manual_seed(1)
        if name in ("dcgan", "cgan"):
            bigger = (torch.randn(5, model.config.z_dim, generator=g),
                      torch.arange(5) % model.config.num_classes)[:len(inputs)]
        else:
            bigger = (model.example_batch(5, g)[0],)
        _compare(model, bigger, session)
    if name in export.SEQUENCE_AXES:         # and so is the time dimension
        axis = export.SEQUENCE_AXES[name][0]
        shorter = inputs[0].narrow(axis, 0, inputs[0].shape[axis] - 3)
        _compare(model, (shorter,), session)


def test_models_can_opt_out_and_unknown_models_fail():
    model = ann.create_model("mlp", "tiny")
    model.onnx_export = False
    with pytest.raises(ann.AnnError, match="cannot be exported"):
        export.export_inputs(model)
    with pytest.raises(ann.AnnError, match="exportable models: .*gpt"):
        export.export_inputs(ann.create_model("gcn", "tiny"))


def test_cli_exports_a_run_and_refuses_others(tmp_path):
    run_dir = tmp_path / "mlp"
    ann.train("mlp-digits", {"train.max_steps": 3, "train.threads": 1}, out=run_dir, quiet=True)
    out = ann_cli("export", run_dir, "--format", "onnx").stdout
    assert str(run_dir / "model.onnx") in out
    run = ann.load(run_dir)
    x = ann.load_dataset("digits", "test").x[:7]
    session = _session((run_dir / "model.onnx").read_bytes())
    _compare(run.model.eval(), (x,), session)
    custom = tmp_path / "sub" / "m.onnx"
    ann_cli("export", run_dir, "--out", custom)
    assert custom.stat().st_size > 1000
    assert not list(custom.parent.glob("*.tmp"))          # written atomically, nothing left over

    pnn = tmp_path / "pnn"
    ann.train("pnn-iris", {"train.threads": 1}, out=pnn, quiet=True)
    fails_cleanly(ann_cli("export", pnn, check=False), "pnn", "cannot be exported", "mlp")
    assert not (pnn / "model.onnx").exists()
