"""``ann tour``: one small recipe per family, trained on embedded data within a time budget, and a
self-contained HTML report of what each one learned.

The tour is the overview of neural networks made runnable: a newcomer types one command and, about
ten minutes later on a 2-core laptop, opens ``tour/report.html`` to find every family — what it is
(its paper), its layers and parameters, its training curves, what it produced and how close it came
to its recipe's target. Each stop is an ordinary recipe run (``tour/runs/FAMILY``) with a shorter
training budget, so everything in the report can be reproduced with ``ann train``.

A tour that is stopped resumes where it was: finished stops are kept, a stop killed mid-training
continues from its last checkpoint.
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import AnnError, unknown
from ..recipes import RECIPES

DEFAULT_BUDGET = 600.0      # seconds on a 2-core CPU the whole tour's measured stops fit within


@dataclass(frozen=True)
class Stop:
    """One family of the tour: the recipe it runs and the training budget it gets, read from the
    recipe's row (``Recipe.tour``, an ``ann.recipes.TourStop``: the stop's name, measured seconds
    and ``train`` overrides)."""

    family: str                 # the stop's name: `--only FAMILY`, OUT/runs/FAMILY
    recipe: str
    seconds: float              # measured wall time on two cores at the default budget
    train: dict = field(default_factory=dict)


# The order of the tour, from the simplest networks to the rarer ones. The stops themselves are
# recipe rows (``tour=TourStop(...)`` in ``recipes/<family>.py``); a stop not named here comes last.
ORDER = ("mlp", "cnn", "unet", "detector", "gpt", "bert", "transformer", "t5", "vit", "clip",
         "rnn", "lstm", "gru", "autoencoder", "vae", "gan", "gcn", "gmdh", "pnn", "tdnn", "dsn")


def _stops() -> tuple[Stop, ...]:
    stops: dict[str, Stop] = {}
    for r in RECIPES.values():
        if r.tour is None:
            continue
        if r.tour.name in stops:
            raise AnnError(f"recipes {stops[r.tour.name].recipe!r} and {r.name!r} are both the "
                           f"tour's {r.tour.name} stop; this is a bug in ann")
        stops[r.tour.name] = Stop(r.tour.name, r.name, r.tour.seconds, dict(r.tour.train))
    missing = [name for name in ORDER if name not in stops]
    if missing:
        raise AnnError(f"no recipe is the tour's {', '.join(missing)} stop; this is a bug in ann")
    rank = {name: i for i, name in enumerate(ORDER)}
    return tuple(sorted(stops.values(), key=lambda st: rank.get(st.family, len(ORDER))))


STOPS: tuple[Stop, ...] = _stops()
FAMILIES = tuple(s.family for s in STOPS)
SCALED_KEYS = ("epochs", "max_steps")


@dataclass
class Leg:
    """A stop as planned for one tour: its overrides after scaling, and afterwards its outcome."""

    stop: Stop
    overrides: dict
    path: Path
    run: object = None          # the api.Run when it finished
    error: str = ""             # one line when it failed
    seconds: float = 0.0


def _recipe_train(name: str) -> dict:
    from ..api import build_config

    tc = build_config(name).train
    return {"epochs": tc.epochs, "max_steps": tc.max_steps}


def _scaled(stop: Stop, factor: float) -> dict:
    """``train.*`` overrides of a stop for a budget ``factor`` times the default."""
    train = dict(stop.train)
    if factor != 1.0:
        base = {**_recipe_train(stop.recipe), **train}
        for key in SCALED_KEYS:
            if base.get(key):
                train[key] = max(1, round(base[key] * factor))
    return {f"train.{k}": v for k, v in train.items()}


def parse_only(only: str | None) -> tuple[str, ...]:
    """The families named by ``--only a,b`` (all when empty), in tour order; an unknown name is an
    error listing the families."""
    if only is None:
        return FAMILIES
    names = [n.strip() for n in only.split(",") if n.strip()]
    if not names:
        raise AnnError("--only names no family; give e.g. --only cnn,gpt (see `ann tour --list`)")
    for n in names:
        if n not in FAMILIES:
            raise unknown("tour family", n, FAMILIES)
    return tuple(f for f in FAMILIES if f in names)


def budget_factor(stops, budget: float | None) -> float:
    """How much the chosen ``stops``' training budgets are scaled so that together they take
    ``budget`` seconds (``--budget`` is the time of the families chosen, not of the whole tour);
    1 when ``budget`` is None: each stop's measured time at its default settings."""
    if budget is None:
        return 1.0
    if not budget > 0:
        raise AnnError(f"--budget must be a positive number of seconds, got {budget:g}")
    return budget / sum(stop.seconds for stop in stops)


def plan(only: str | None = None, budget: float | None = None, out="tour") -> list[Leg]:
    """The legs of a tour: the chosen families with their overrides scaled so that together they
    train for ``budget`` seconds (:func:`budget_factor`)."""
    chosen = [stop for stop in STOPS if stop.family in parse_only(only)]
    factor = budget_factor(chosen, budget)
    return [Leg(stop, _scaled(stop, factor), Path(out) / "runs" / stop.family) for stop in chosen]


def _check_writable(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".ann-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise AnnError(f"cannot write the tour to {out} ({e.strerror or e}); choose another --out "
                       "or make it writable") from None


def _run_leg(leg: Leg, threads: int) -> None:
    """Train one leg, or reuse/resume what an earlier, interrupted tour left in its folder."""
    from .. import api, runs

    overrides = {**leg.overrides, "train.threads": threads}
    if (leg.path / "summary.json").exists():
        run = api.load(leg.path)
        if _same_settings(run.config, leg):
            leg.run = run
            return
        raise AnnError(f"{leg.path} holds a {leg.stop.family} run with other settings (another "
                       "--budget?); remove it or choose another --out")
    if (leg.path / "config.json").exists():
        rc = api.RunConfig.from_dict(runs.read_config(leg.path))
        if not _same_settings(rc, leg):
            raise AnnError(f"{leg.path} holds an unfinished run with other settings; remove it "
                           "or choose another --out")
        leg.run = api.train(resume=leg.path, quiet=True, overrides={"train.threads": threads})
        return
    leg.run = api.train(leg.stop.recipe, overrides, out=leg.path, quiet=True)


def _same_settings(rc, leg: Leg) -> bool:
    def get(key):
        obj = rc
        for part in key.split("."):
            obj = getattr(obj, part)
        return obj

    return rc.recipe == leg.stop.recipe and all(get(k) == v for k, v in leg.overrides.items())


def result_line(leg: Leg) -> str:
    """The family's own line: its metric against the recipe's target, and its time."""
    name = f"{leg.stop.family:<12} {leg.stop.recipe:<22}"
    if leg.error:
        return f"  x {name} failed: {leg.error}"
    s = leg.run.summary
    metric, value = s["metric"], s["test"][s["metric"]]
    target = s.get("target")
    verdict = "" if target is None else (" (target {:g}: {})".format(
        target, "reached" if s.get("reached") else "not reached"))
    return f"  {'+' if s.get('reached', True) else '-'} {name} test {metric} {value:.4g}{verdict}  " \
           f"{leg.seconds:.0f}s"


class _Bar:
    """One overall bar, in seconds of expected work, that keeps moving while a stop trains."""

    def __init__(self, legs: list[Leg], quiet: bool):
        from tqdm.auto import tqdm

        self.total = sum(leg.stop.seconds for leg in legs)
        self.bar = tqdm(total=round(self.total), unit="s", desc="ann tour", disable=True if quiet else None,
                        file=sys.stderr, dynamic_ncols=True, bar_format="{l_bar}{bar}| {elapsed} {postfix}")
        self.done, self.current, self.started = 0.0, 0.0, time.time()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._tick, daemon=True)
        if not self.bar.disable:
            self._thread.start()

    def _tick(self):
        while not self._stop.wait(0.5):
            expected = self.current
            progressed = min(time.time() - self.started, 0.95 * expected)
            self.bar.n = round(self.done + progressed)
            self.bar.refresh()

    def begin(self, leg: Leg):
        self.current, self.started = leg.stop.seconds, time.time()
        self.bar.set_postfix_str(f"{leg.stop.family} ({leg.stop.recipe})")

    def end(self, leg: Leg, line: str):
        self.done += leg.stop.seconds
        self.current = 0.0
        self.bar.n = round(self.done)
        self.bar.write(line, file=sys.stdout)

    def close(self):
        self._stop.set()
        self.bar.close()


def run_tour(only: str | None = None, budget: float | None = None, out="tour", threads: int = 0,
             quiet: bool = False, debug: bool = False) -> tuple[list[Leg], Path]:
    """Train the chosen families and write ``OUT/report.html``; returns the legs and the report's
    path. A family that fails is reported (one line) and the tour goes on. ``budget``: seconds
    for the chosen families together (None: their measured times at the default settings)."""
    from ..report.html import write_report

    if not isinstance(threads, int) or threads < 0:
        raise AnnError(f"--threads must be 0 (torch's default) or a positive number of threads, "
                       f"got {threads}")
    if str(out).strip() == "":
        raise AnnError("--out is empty; give the folder for the tour's runs and report")
    out = Path(out)
    legs = plan(only, budget, out)
    _check_writable(out)
    if budget is None:
        budget = sum(leg.stop.seconds for leg in legs)
    if not quiet:
        minutes = budget / 60
        print(f"ann tour: {len(legs)} families, about {max(1, round(minutes))} minutes on 2 cores; "
              f"runs in {out / 'runs'}", flush=True)
    bar = _Bar(legs, quiet)
    try:
        for leg in legs:
            bar.begin(leg)
            start = time.time()
            try:
                _run_leg(leg, threads)
            except AnnError as e:
                leg.error = str(e).splitlines()[0]
            except Exception as e:  # a family's bug must not end the tour: say which, go on
                if debug:
                    traceback.print_exc()
                leg.error = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            leg.seconds = time.time() - start
            bar.end(leg, result_line(leg))
    finally:
        bar.close()
    from .._version import __version__
    from ..recipes import RECIPES
    from . import glossary

    report = write_report(legs, out / "report.html", budget=budget, version=__version__,
                          recipes=RECIPES, glossary_html=glossary.render_html())
    return legs, report
