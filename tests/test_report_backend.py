"""Drawing a run's pictures leaves the user's matplotlib alone: no module chooses the backend and
no figure is left registered with pyplot; report/ is handed what it draws."""

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import matplotlib

import ann
from ann.report import html

SRC = Path(ann.__file__).resolve().parent.parent


def test_training_and_reporting_keeps_the_users_backend(tmp_path):
    before = matplotlib.get_backend()
    matplotlib.use("svg")
    try:
        run = ann.train("mlp-digits", {"train.max_steps": 20, "train.eval_every": 10,
                                       "train.threads": 1}, out=tmp_path / "r", quiet=True)
        assert matplotlib.get_backend() == "svg"
        import matplotlib.pyplot as plt

        assert plt.get_fignums() == []
        for name in ("curves.png", "confusion.png"):
            assert (run.path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        matplotlib.use(before)


def test_importing_the_drawing_modules_chooses_no_backend_and_no_pyplot():
    """In a fresh process, where an import-time ``matplotlib.use`` could not hide behind an
    earlier import."""
    code = ("import sys, matplotlib, ann, ann.report.plots, ann.report.generative, "
            "ann.report.attention, ann.report.html, ann.tasks.images, ann.apps.experiments.long_range\n"
            "assert matplotlib.get_backend() == 'svg', matplotlib.get_backend()\n"
            "assert 'matplotlib.pyplot' not in sys.modules\n")
    env = {**os.environ, "MPLBACKEND": "svg",
           "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_html_report_uses_the_values_it_is_handed():
    leg = SimpleNamespace(stop=SimpleNamespace(family="mlp", recipe="r"), error="boom")
    recipe = SimpleNamespace(name="r", description="a recipe handed in")
    page = html.render([leg], 60, version="9.9.9", recipes={"r": recipe},
                       glossary_html="<p>glossary handed in</p>")
    assert "ann 9.9.9" in page and "a recipe handed in" in page and "glossary handed in" in page



def test_a_fresh_process_training_runs_keeps_its_backend_undecided_then_its_choice(tmp_path):
    """With ``MPLBACKEND`` unset (CI sets it): a backend left to matplotlib stays undecided
    through ``import ann`` and a run (nothing in ann resolves or switches it), and one the user
    then chooses (svg, not Agg) stays chosen through the next run."""
    code = ("import sys, matplotlib\n"
            "import ann\n"
            "train = lambda out: ann.train('mlp-digits', {'train.max_steps': 10, 'train.eval_every': 5, "
            "'train.threads': 1}, out=out, quiet=True)\n"
            "assert (train(sys.argv[1] + '/a').path / 'curves.png').exists()\n"
            "print(matplotlib.rcParams._get_backend_or_none())\n"
            "matplotlib.use('svg')\n"
            "assert (train(sys.argv[1] + '/b').path / 'curves.png').exists()\n"
            "print(matplotlib.get_backend())\n")
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[-2:] == ["None", "svg"], proc.stdout
