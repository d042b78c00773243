"""`ann tour`: the plan covers every family on embedded data, a short tour writes a complete
report that a real browser shows with every picture, a stopped tour resumes, bad input fails
cleanly."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ann import registry
from ann.apps import tour
from ann.errors import AnnError
from ann.recipes import RECIPES
from helpers import ann, fails_cleanly

# The families the issue names for the tour, in its words.
ISSUE_FAMILIES = ("mlp", "cnn", "unet", "detector", "gpt", "bert", "transformer", "t5", "vit", "clip",
                  "rnn", "lstm", "gru", "autoencoder", "vae", "gan", "gcn", "gmdh", "pnn", "tdnn", "dsn")
ARTIFACTS = Path(os.environ.get("ANN_TEST_ARTIFACTS", Path(__file__).parent.parent / "test-artifacts"))


def test_every_family_has_one_stop_on_embedded_data():
    # the first wave's families all stop; a later family adds its stop on its own recipe row
    assert set(ISSUE_FAMILIES) <= set(tour.FAMILIES) and len(set(tour.FAMILIES)) == len(tour.FAMILIES)
    for stop in tour.STOPS:
        recipe = RECIPES[stop.recipe]
        assert registry.dataset_entry(recipe.dataset).embedded, f"{stop.recipe} needs a download"
        assert stop.seconds > 0
        # the stop is the recipe's own row: its name, time and budget live there
        assert (recipe.tour.name, recipe.tour.seconds, recipe.tour.train) == \
            (stop.family, stop.seconds, stop.train)
    assert len(tour.STOPS) == sum(r.tour is not None for r in RECIPES.values())
    # the measured times of the stops fit the default budget of about ten minutes on 2 cores
    assert 0.5 * tour.DEFAULT_BUDGET <= sum(s.seconds for s in tour.STOPS) <= tour.DEFAULT_BUDGET


def _seconds(families: str) -> float:
    """The measured seconds of the stops ``families`` names together (their default budget)."""
    return sum(s.seconds for s in tour.STOPS if s.family in families.split(","))


def test_budget_scales_training_and_only_picks_families(tmp_path):
    full = {leg.stop.family: leg for leg in tour.plan(out=tmp_path)}
    assert all(leg.overrides == {f"train.{k}": v for k, v in leg.stop.train.items()}
               for leg in full.values())                      # no --budget: the stops as measured
    half = {leg.stop.family: leg for leg in tour.plan("mlp,gpt", budget=_seconds("mlp,gpt") / 2,
                                                       out=tmp_path)}
    assert list(half) == ["mlp", "gpt"]                       # tour order, not the order given
    assert half["mlp"].overrides["train.epochs"] == full["mlp"].overrides["train.epochs"] // 2
    assert half["gpt"].overrides["train.max_steps"] == full["gpt"].overrides["train.max_steps"] // 2
    assert half["mlp"].path == tmp_path / "runs" / "mlp"


def test_budget_is_the_time_of_the_families_chosen_not_of_the_whole_tour():
    # issue 29: `--only cnn,gcn --budget 60` gave cnn-digits one epoch (60 s out of the tour's 600)
    chosen = [s for s in tour.STOPS if s.family in ("cnn", "gcn")]
    assert tour.budget_factor(chosen, 60) == pytest.approx(60 / _seconds("cnn,gcn"))
    assert tour.budget_factor(chosen, None) == 1.0
    assert tour.budget_factor(tour.STOPS, _seconds(",".join(tour.FAMILIES))) == pytest.approx(1.0)
    cnn = tour.plan("cnn,gcn", budget=60)[0]
    default = dict(tour.STOPS[tour.FAMILIES.index("cnn")].train)["epochs"]
    assert cnn.stop.family == "cnn"
    assert cnn.overrides["train.epochs"] == round(default * 60 / _seconds("cnn,gcn")) > default
    with pytest.raises(AnnError, match="positive"):
        tour.budget_factor(chosen, 0)


@pytest.fixture(scope="module")
def short_tour(tmp_path_factory):
    out = tmp_path_factory.mktemp("tour") / "tour"
    # half of the three stops' measured time
    budget = _seconds("mlp,vae,gmdh") / 2
    proc = ann("tour", "--only", "mlp,vae,gmdh", "--budget", budget, "--out", str(out), "--threads", "1")
    return out, proc


def test_short_tour_writes_a_complete_report(short_tour):
    out, proc = short_tour
    assert "ann: tour report in" in proc.stdout
    for family in ("mlp", "vae", "gmdh"):
        assert re.search(rf"^  [+-] {family} ", proc.stdout, re.M), proc.stdout
        assert (out / "runs" / family / "summary.json").exists()
    page = (out / "report.html").read_text()
    assert page.count('<section class="family"') == 3
    for family in ("mlp", "vae", "gmdh"):
        section = page.split(f'id="family-{family}"')[1].split("</section>")[0]
        assert "What it is" in section and "bias terms" in section and "Layer table" in section
        assert section.count("data:image/png;base64,") >= 2, f"{family}: curves and a result picture"
    assert "Kingma" in page                        # the VAE's paper, from its docstring
    assert "<pre class=\"sample\">" in page        # the GMDH formula (model.txt)
    assert "src=\"http" not in page and "href=\"http" not in page   # self-contained


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.mark.skipif(_chromium() is None, reason="headless Chromium is not installed "
                    "(Debian package `chromium`; .ci/run installs it where it can)")
def test_report_shows_every_section_and_picture_in_chromium(short_tour, tmp_path):
    out, _ = short_tour
    url = (out / "report.html").resolve().as_uri()
    dom = subprocess.run([_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'p1'}",
                          "--virtual-time-budget=10000", "--dump-dom", url],
                         capture_output=True, text=True, timeout=120).stdout
    body = re.search(r"<body([^>]*)>", dom)
    assert body, "Chromium rendered no page"
    attrs = dict(re.findall(r'data-([a-z-]+)="(\d+)"', body.group(1)))
    assert attrs.get("sections") == "3"
    total = int(attrs["images-total"])
    assert total >= 6 and attrs["images-loaded"] == str(total), attrs
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "tour-report.png"
    subprocess.run([_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'p2'}",
                    "--window-size=1200,3000", f"--screenshot={shot}", url],
                   capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 10_000


def test_a_stopped_tour_resumes(short_tour, tmp_path):
    out, _ = short_tour
    copy = tmp_path / "tour"
    shutil.copytree(out, copy)
    finished = (copy / "runs" / "mlp" / "summary.json").stat().st_mtime_ns
    # vae as if killed after its last checkpoint: no summary, no final weights
    (copy / "runs" / "vae" / "summary.json").unlink()
    (copy / "runs" / "vae" / "model.safetensors").unlink()
    proc = ann("tour", "--only", "mlp,vae", "--budget", _seconds("mlp,vae") / 2, "--out", str(copy),
               "--threads", "1")        # the settings of the short tour: half their time
    assert (copy / "runs" / "mlp" / "summary.json").stat().st_mtime_ns == finished   # kept as it was
    assert (copy / "runs" / "vae" / "summary.json").exists()
    assert "+ vae" in proc.stdout
    # a different budget would mix settings in one folder: refused with a clear line
    proc = ann("tour", "--only", "mlp", "--budget", _seconds("mlp") / 6, "--out", str(copy), check=False)
    assert proc.returncode != 0 and "other settings" in proc.stdout


def test_bad_input_fails_cleanly(tmp_path):
    fails_cleanly(ann("tour", "--only", "cnn,lstmm", check=False), "lstmm", "lstm")
    fails_cleanly(ann("tour", "--budget", "0", check=False), "--budget", "positive")
    fails_cleanly(ann("tour", "--budget", "-5", check=False), "--budget")
    blocker = tmp_path / "file"
    blocker.write_text("")
    fails_cleanly(ann("tour", "--only", "pnn", "--out", str(blocker / "sub"), check=False),
                  "cannot write the tour")


def test_list_names_every_family():
    proc = ann("tour", "--list")
    for stop in tour.STOPS:
        assert stop.family in proc.stdout and stop.recipe in proc.stdout
