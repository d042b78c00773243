"""Build the documentation's sources into build/docs-src (``make docs``; mkdocs.yml reads them).

The hand-written pages of docs/ are copied; a page per family is generated from the recipes
(``ann.recipes``: each recipe's model, dataset, metric, target and reference), and the command
line reference from the parser itself (``ann.cli``), so neither can drift from the code. The
Python API pages are mkdocstrings' (``::: ann.api``), read from the docstrings.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "build" / "docs-src"
sys.path.insert(0, str(ROOT / "src"))


def family_pages() -> dict[str, str]:
    """``{family: markdown}``: the recipes of each family as a table."""
    from ann.recipes import list_recipes

    by_family = defaultdict(list)
    for r in list_recipes():
        by_family[r.family].append(r)
    pages = {}
    for family, recipes in sorted(by_family.items()):
        lines = [f"# {family}", "", f"Recipes of `src/ann/recipes/{family}.py`: `ann train NAME` "
                 "runs one; the target is the test figure a full run must reach.", "",
                 "| recipe | model | dataset | metric | target | reference |",
                 "|---|---|---|---|---|---|"]
        for r in recipes:
            ref = r.reference.replace("|", "/") if r.reference else ""
            lines.append(f"| `{r.name}` | `{r.model}` | `{r.dataset}` | {r.metric} | "
                         f"{r.target:g} | {ref} |")
        lines += [""] + [f"- **`{r.name}`**: {r.description}" for r in recipes] + [""]
        pages[family] = "\n".join(lines)
    return pages


def _subcommands(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield from action.choices.items()


def cli_page() -> str:
    """Every command's ``-h``, as the parser prints it."""
    from ann.cli import _parser

    parser = _parser()
    parts = ["# Command line", "", "Generated from the parser: the same text as `ann COMMAND -h`.",
             "", "```text", parser.format_help().rstrip(), "```", ""]
    for name, sub in _subcommands(parser):
        parts += [f"## ann {name}", "", "```text", sub.format_help().rstrip(), "```", ""]
    return "\n".join(parts)


def main() -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    for page in (ROOT / "docs").glob("*.md"):
        shutil.copy(page, OUT / page.name)
    (OUT / "families").mkdir()
    pages = family_pages()
    for family, text in pages.items():
        (OUT / "families" / f"{family}.md").write_text(text, encoding="utf-8")
    (OUT / "families" / "index.md").write_text(
        "# Families\n\n" + "\n".join(f"- [{f}]({f}.md)" for f in pages) + "\n", encoding="utf-8")
    (OUT / "cli.md").write_text(cli_page(), encoding="utf-8")
    print(f"docs sources in {OUT.relative_to(ROOT)}: {len(pages)} families, the CLI, the API")


if __name__ == "__main__":
    main()
