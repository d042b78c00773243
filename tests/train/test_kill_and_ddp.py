"""A run killed with SIGKILL resumes to the uninterrupted weights; two processes equal one."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from helpers import ann, env

DET = ["train.deterministic=true", "train.seed=5"]


def weights(run):
    return load_file(str(run / "model.safetensors"))


@pytest.mark.slow
def test_sigkill_then_resume_equals_uninterrupted(tmp_path):
    args = ["mlp-digits", *DET, "train.epochs=0", "train.max_steps=3000",
            "train.checkpoint_every=100", "train.eval_every=1000", "--quiet"]
    ann("train", *args, "--out", tmp_path / "full")

    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "ann", "train", *args, "--out", str(out)],
                            env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pointer = out / "checkpoints" / "latest.json"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if pointer.exists() and json.loads(pointer.read_text())["step"] >= 300:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before it could be killed; give it more steps"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "summary.json").exists()
    killed_at = json.loads(pointer.read_text())["step"]
    assert 300 <= killed_at < 3000

    ann("train", "--resume", out, "--quiet")
    full, resumed = weights(tmp_path / "full"), weights(out)
    assert full.keys() == resumed.keys()
    for k in full:
        assert torch.equal(full[k], resumed[k]), k


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.parametrize("extra", [[], ["train.lora_rank=4", "train.lora_targets=mlp.net.0,mlp.net.3"]],
                         ids=["full", "lora"])
def test_two_processes_equal_one_with_the_same_global_batch(tmp_path, extra):
    # with LoRA only the adapters (and the layers no pattern names) train, the frozen weights
    # stay out of DDP's gradient all-reduce, and the saved run holds the merged layers
    args = ["mlp-digits", *DET, "model.dropout=0", "train.epochs=0", "train.max_steps=40",
            "train.batch_size=32", "train.eval_every=20", *extra, "--quiet"]
    ann("train", *args, "--out", tmp_path / "one", "train.threads=1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
           "--master_addr=127.0.0.1", f"--master_port={_free_port()}",
           "-m", "ann", "train", *args, "--out", str(tmp_path / "two")]
    proc = subprocess.run(cmd, env=env(OMP_NUM_THREADS=1), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    one, two = weights(tmp_path / "one"), weights(tmp_path / "two")
    for k in one:
        torch.testing.assert_close(one[k], two[k], rtol=1e-5, atol=1e-6)
    assert json.loads((tmp_path / "two" / "summary.json").read_text())["world_size"] == 2


@pytest.mark.slow
def test_ctrl_c_saves_and_exits_cleanly(tmp_path):
    out = tmp_path / "run"
    # Output goes to files, not pipes: a pipe nobody reads while we wait would fill up and
    # stall the run on a slow machine. The child gets Ctrl-C's default disposition back: a test
    # run started in the background (`make test &`) ignores SIGINT, and children inherit that.
    with open(tmp_path / "stdout", "w") as so, open(tmp_path / "stderr", "w") as se:
        proc = subprocess.Popen([sys.executable, "-m", "ann", "train", "mlp-digits", "train.epochs=0",
                                 "train.max_steps=100000", "train.eval_every=50", "train.threads=1",
                                 "--out", str(out)], env=env(), stdout=so, stderr=se, text=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        pointer = out / "checkpoints" / "latest.json"
        deadline = time.time() + 180
        while time.time() < deadline and not pointer.exists() and proc.poll() is None:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=180)
    err = (tmp_path / "stderr").read_text()
    assert proc.returncode == 130
    lines = [line for line in err.splitlines() if line.strip() and "\r" not in line]
    assert "Traceback" not in err
    assert any("interrupted at step" in line and f"--resume {out}" in line for line in lines), err
    step = json.loads(pointer.read_text())["step"]
    assert step >= 50 and not (out / "summary.json").exists()
