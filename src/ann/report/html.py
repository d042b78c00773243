"""The tour's HTML report: one self-contained page (pictures embedded as data URIs, no script or
style from the network) with a summary table and one section per family.

A small inline script counts the pictures the browser decoded and writes the count into the page
(``<body data-images-loaded="N" data-images-total="M">``), so a headless browser can check that
every picture loaded.
"""

from __future__ import annotations

import base64
import html
import inspect
import platform
import time
from pathlib import Path

from .. import fileio

MAX_TEXT = 1500          # characters of a text file shown in a family's section
TEXT_FILES = ("samples.txt", "captions.txt", "model.txt", "table.txt")

STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 2px solid #ddd; padding-bottom: 0.2em; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.ok td.verdict { color: #176b1a; } tr.miss td.verdict, tr.fail td.verdict { color: #a3211a; }
.doc { white-space: pre-wrap; background: #f7f7f7; padding: 0.6em 0.9em; border-radius: 4px;
       font-size: 13px; }
figure { display: inline-block; margin: 0.5em 1em 0.5em 0; vertical-align: top; }
figure img { max-width: 520px; max-height: 420px; border: 1px solid #eee; }
figcaption { font-size: 12px; color: #555; }
pre.sample { background: #f4f4ff; padding: 0.6em; white-space: pre-wrap; font-size: 12px;
             max-height: 18em; overflow: auto; }
.meta { color: #666; font-size: 13px; }
"""

CHECK_SCRIPT = """
window.addEventListener('load', function () {
  var imgs = document.images, ok = 0;
  for (var i = 0; i < imgs.length; i++) {
    if (imgs[i].complete && imgs[i].naturalWidth > 0) ok++;
  }
  document.body.setAttribute('data-images-loaded', ok);
  document.body.setAttribute('data-images-total', imgs.length);
  document.body.setAttribute('data-sections', document.querySelectorAll('section.family').length);
});
"""


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def image_tag(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{_e(alt)}">'


def _figure(path: Path, caption: str) -> str:
    return f"<figure>{image_tag(path, caption)}<figcaption>{_e(caption)}</figcaption></figure>"


def model_doc(model) -> str:
    """What the model is and where it comes from: its module's docstring (which cites the paper),
    else its class's."""
    module = inspect.getmodule(type(model))
    return inspect.cleandoc((module and module.__doc__) or type(model).__doc__ or "").strip()


def layer_table(run) -> str:
    """The model's layers with their weights and biases, from one forward pass on an example
    batch (the same table as ``ann info``)."""
    from .summary import count_parameters, layer_rows

    counts = count_parameters(run.model)
    totals = (f"<p>{counts['total']:,} parameters: {counts['weights']:,} weights and "
              f"{counts['biases']:,} bias terms.</p>")
    try:
        batch = run.model.example_batch(1, None)
        task = run.task
        rows = layer_rows(run.model, task.inputs(run.model, batch))
    except Exception as e:          # a model without an example batch still gets its totals
        return totals + f'<p class="meta">(layer table unavailable: {_e(type(e).__name__)})</p>'
    body = "".join(f"<tr><td>{_e(n)}</td><td>{_e(t)}</td><td>{_e(s)}</td>"
                   f'<td class="num">{w:,}</td><td class="num">{b:,}</td></tr>'
                   for n, t, s, w, b in rows)
    return (totals + "<details><summary>Layer table</summary><table><tr><th>Layer</th><th>Type</th>"
            "<th>Output shape</th><th>Weights</th><th>Biases</th></tr>" + body + "</table></details>")


def _verdict(summary: dict) -> tuple[str, str]:
    if "target" not in summary:
        return "ok", "-"
    return ("ok", "reached") if summary.get("reached") else ("miss", "not reached")


def _result(summary: dict) -> str:
    metric = summary["metric"]
    return f"{summary['test'][metric]:.4g}"


def summary_table(legs) -> str:
    rows = []
    for leg in legs:
        link = f'<a href="#family-{_e(leg.stop.family)}">{_e(leg.stop.family)}</a>'
        if leg.error:
            rows.append(f'<tr class="fail"><td>{link}</td><td>{_e(leg.stop.recipe)}</td>'
                        f'<td colspan="5" class="verdict">failed: {_e(leg.error)}</td></tr>')
            continue
        s = leg.run.summary
        css, verdict = _verdict(s)
        rows.append(
            f'<tr class="{css}"><td>{link}</td><td>{_e(leg.stop.recipe)}</td><td>{_e(s["metric"])}</td>'
            f'<td class="num">{_result(s)}</td><td class="num">{_e(s.get("target", "-"))}</td>'
            f'<td class="verdict">{verdict}</td><td class="num">{leg.seconds:.0f} s</td>'
            f'<td class="num">{s["parameters"]["total"]:,}</td></tr>')
    return ("<table><tr><th>Family</th><th>Recipe</th><th>Metric</th><th>Test</th><th>Target</th>"
            "<th></th><th>Time</th><th>Parameters</th></tr>" + "".join(rows) + "</table>")


def _produced(path: Path) -> str:
    """Every picture and text sample the run wrote, besides its curves."""
    parts = [_figure(p, p.stem.replace("_", " ")) for p in sorted(path.glob("*.png"))
             if p.name != "curves.png"]
    for name in TEXT_FILES:
        f = path / name
        if f.exists():
            text = f.read_text(errors="replace")
            more = "\n..." if len(text) > MAX_TEXT else ""
            parts.append(f"<p>{_e(name)}:</p><pre class=\"sample\">{_e(text[:MAX_TEXT] + more)}</pre>")
    return "".join(parts) or '<p class="meta">(no pictures)</p>'


def family_section(leg, recipes) -> str:
    """One family's section; ``recipes`` maps a recipe name to its recipe (``name``,
    ``description``)."""
    recipe = recipes[leg.stop.recipe]
    head = (f'<section class="family" id="family-{_e(leg.stop.family)}"><h2>{_e(leg.stop.family)}'
            f' <span class="meta">— ann train {_e(recipe.name)}</span></h2><p>{_e(recipe.description)}</p>')
    if leg.error:
        return head + f'<p class="verdict">This family failed in this tour: {_e(leg.error)}</p></section>'
    run, s = leg.run, leg.run.summary
    css, verdict = _verdict(s)
    result = (f"<p><b>Result:</b> test {_e(s['metric'])} {_result(s)}"
              + (f" against the recipe's target {_e(s['target'])} ({verdict})" if "target" in s else "")
              + f", after {s['steps']:,} steps in {leg.seconds:.0f} s "
              f"(the full recipe trains longer: <code>ann train {_e(recipe.name)}</code>).</p>")
    curves = run.path / "curves.png"
    return (head + f'<h3>What it is</h3><div class="doc">{_e(model_doc(run.model))}</div>'
            + result + "<h3>Parameters</h3>" + layer_table(run)
            + "<h3>Training</h3>" + (_figure(curves, "training curves") if curves.exists() else "")
            + "<h3>What it produced</h3>" + _produced(run.path) + "</section>")


def render(legs, budget: float, *, version: str, recipes, glossary_html: str = "") -> str:
    """The page: ``version`` is ann's, ``recipes`` maps each leg's recipe name to its recipe,
    ``glossary_html`` is appended after the sections."""
    import torch

    date = time.strftime("%Y-%m-%d %H:%M")
    machine = (f"{platform.machine()}, {torch.get_num_threads()} torch threads, Python "
               f"{platform.python_version()}, torch {torch.__version__}, ann {version}")
    sections = "".join(family_section(leg, recipes) for leg in legs)
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<title>ann tour report</title><style>" + STYLE + "</style></head><body>"
        "<h1>The ann tour</h1>"
        f"<p class=\"meta\">{_e(date)} · {_e(machine)} · budget {budget:g} s</p>"
        "<p>One small network of each family, trained here on data that ships with ann. Each "
        "section says what the family is (with its paper), shows its layers and parameters "
        "(weights and bias terms), its training curves and what it produced, and compares its test "
        "result with the target of its full recipe.</p>"
        "<h2>Summary</h2>" + summary_table(legs) + sections + glossary_html
        + "<script>" + CHECK_SCRIPT + "</script></body></html>")


def write_report(legs, path, budget: float, *, version: str, recipes, glossary_html: str = "") -> Path:
    """Write the report atomically (see :func:`render` for the keywords); returns its path."""
    path = Path(path)
    fileio.write_text(path, render(legs, budget, version=version, recipes=recipes,
                                   glossary_html=glossary_html))
    return path
