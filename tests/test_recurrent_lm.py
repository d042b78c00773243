"""Recurrent language models: truncated BPTT with carried state, the step schedule, exact resume,
training and generation from the CLI."""

import json
import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from ann import api as ann_api
from ann.registry import create_model
from ann.tasks import get_task
from ann.train.batches import EpochBatches
from ann.train.optim import lr_factor
from helpers import ann, fails_cleanly

SMALL = ["model.n_layer=1", "model.n_embd=32", "model.hidden=96", "model.block_size=16",
         "train.batch_size=16", "train.optimizer=adamw", "train.lr=1e-2", "train.schedule=constant",
         "train.grad_clip=1.0", "data.tokenizer=char", "--quiet"]


def test_sequential_batches_are_parallel_streams():
    b = EpochBatches(n=10, batch_size=3, seed=0, sequential=True)
    assert b.steps_per_epoch == 3
    assert b.indices(0).tolist() == [0, 3, 6]
    assert b.indices(1).tolist() == [1, 4, 7]
    assert b.indices(3).tolist() == [0, 3, 6]            # a new epoch starts the streams again
    shuffled = EpochBatches(n=10, batch_size=3, seed=0)   # the default is unchanged: shuffled
    assert sorted(torch.cat([shuffled.indices(i) for i in range(3)]).tolist()) != [0, 1, 2, 3, 4, 5, 6, 7, 8]


def test_step_schedule_is_zarembas():
    tc = SimpleNamespace(schedule="step", warmup_steps=0, decay_start=4, decay_factor=0.5, lr=1.0,
                         decay_every=1)
    factors = [lr_factor(e * 10, 130, tc, steps_per_epoch=10) for e in range(13)]
    assert factors[:4] == [1.0] * 4                      # epochs 1-4 at the full rate
    assert factors[4:7] == [0.5, 0.25, 0.125]             # halved from epoch 5 on
    assert lr_factor(49, 130, tc, steps_per_epoch=10) == 0.5


def test_carried_state_equals_one_long_sequence():
    """Batches in stream order with the state carried give the logits of reading the whole
    stream at once: nothing is lost at the window borders."""
    torch.manual_seed(0)
    model = create_model("rnn-lm", "tiny", n_layer=2).double()
    task = get_task(model.task)
    stream = torch.randint(0, 32, (2, 49))
    whole = model(stream[:, :48])                         # (2, 48, V)
    pieces = []
    for s in range(3):
        task.start_step(s, 3)
        x, y = stream[:, s * 16:(s + 1) * 16], stream[:, s * 16 + 1:(s + 1) * 16 + 1]
        loss, _ = task.loss(model, (x, y))
        pieces.append(F.cross_entropy(whole[:, s * 16:(s + 1) * 16].flatten(0, 1), y.flatten()))
        torch.testing.assert_close(loss, pieces[-1].float())
    assert task.state_dict()                               # the carried state is checkpointable
    task.start_step(3, 3)                                  # a new epoch resets it
    assert not task.state_dict()


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_fused_and_readable_lm_agree(cell):
    torch.manual_seed(0)
    model = create_model("rnn-lm", "tiny", cell=cell, n_layer=2)
    x = torch.randint(0, 32, (3, 10))
    fused = model(x)
    model.rnn.fused = False
    torch.testing.assert_close(model(x), fused, atol=1e-5, rtol=1e-5)


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory, conv):
    out = tmp_path_factory.mktemp("rnnlm") / "lstm"
    ann("train", "lstm-pydoc", *SMALL, "train.max_steps=150", "train.eval_every=75", *conv.args,
        "--out", out)
    return out


@pytest.mark.convergence
def test_lstm_learns_pydoc_characters(lm_run):
    summary = json.loads((lm_run / "summary.json").read_text())
    tok = json.loads((lm_run / "tokenizer.json").read_text())
    uniform = math.log(len(tok["chars"]))
    # A unigram model gets ~3.2 nats here; below 2.6 needs what came before.
    assert summary["test"]["loss"] < 2.6, (summary["test"], uniform)
    assert (lm_run / "samples.txt").read_text().strip()


def test_generate_has_no_context_limit(lm_run):
    out = ann("generate", lm_run, "--prompt", "The ", "--max-new-tokens", "60", "--seed", "1").stdout
    assert out.startswith("The ") and len(out.rstrip("\n")) >= 60    # past block_size=16, no --slide
    run = ann_api.load(lm_run)
    again = ann_api.sample_text(run, "The ", 60, seed=1)
    assert out.rstrip("\n") == again


def test_stopped_mid_epoch_resumes_with_the_carried_state(tmp_path):
    args = [a for a in SMALL if a != "--quiet"] + [
        "model.hidden=32", "train.deterministic=true", "train.checkpoint_every=5",
        "train.eval_every=1000", "train.eval_batch_size=50"]
    ann_api.train("lstm-pydoc", args + ["train.max_steps=14"], out=tmp_path / "full", quiet=True)
    ann_api.train("lstm-pydoc", args + ["train.max_steps=10"], out=tmp_path / "part", quiet=True)
    state = torch.load(tmp_path / "part" / "checkpoints" / "step-00000010" / "state.pt",
                       weights_only=True)
    assert state["task"], "the carried state is not in the checkpoint"
    ann_api.train(resume=tmp_path / "part", overrides=["train.max_steps=14"], quiet=True)
    full = load_file(str(tmp_path / "full" / "model.safetensors"))
    resumed = load_file(str(tmp_path / "part" / "model.safetensors"))
    for k in full:
        assert torch.equal(full[k], resumed[k]), k


def test_series_data_given_to_a_language_model_fails_cleanly():
    fails_cleanly(ann("train", "lstm-pydoc", "data.window=5", check=False), "data.window")
