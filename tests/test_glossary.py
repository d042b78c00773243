"""The glossary: every entry's code exists, live figures are computed from ann (not typed), the
HTML fragment holds one article per term, and `ann explain` lists, explains and rejects."""

import re
from html.parser import HTMLParser

import pytest

from ann.apps import glossary
from ann.report.summary import count_parameters
from helpers import ann, fails_cleanly

REQUIRED = ["parameters", "epoch", "batch", "backpropagation", "feed-forward", "bias term",
            "activation", "embedding", "encoder", "decoder", "attention", "vanishing gradient",
            "overfitting", "dropout", "batch normalization", "convolution", "pooling",
            "learning rate", "loss", "softmax", "gradient descent", "residual connection",
            "layer normalization", "tokenizer", "perplexity"]


def test_required_terms_present_and_unique():
    terms = [e.term for e in glossary.entries()]
    assert len(terms) == len(set(terms))
    assert set(REQUIRED) <= set(terms)
    for e in glossary.entries():
        assert e.code and 40 < len(e.text) < 600, e.term


@pytest.mark.parametrize("entry", glossary.entries(), ids=lambda e: e.term)
def test_code_pointers_exist(entry):
    for path in entry.code:
        assert path.startswith("ann."), path
        assert glossary.resolve(path) is not None


def test_parameters_figure_is_computed_from_the_model():
    import ann as api

    rc = api.build_config("cnn-digits")
    from ann import registry

    c = count_parameters(registry.build_model(rc.model_name, rc.model))
    figure = glossary.lookup("parameters").figure()
    assert f"{c['total']:,}" in figure and f"{c['weights']:,}" in figure
    assert f"{c['biases']:,} bias terms" in figure


def test_figures_are_single_lines():
    for e in glossary.entries():
        f = e.figure()
        assert f is None or ("\n" not in f and len(f) > 10), e.term


def test_lookup_ignores_case_hyphens_and_aliases():
    assert glossary.lookup("Feed Forward").term == "feed-forward"
    assert glossary.lookup("BACKPROP").term == "backpropagation"
    assert glossary.lookup("bias").term == "bias term"


def test_html_fragment():
    text = glossary.render_html()
    assert text.startswith('<section id="glossary">') and text.endswith("</section>")

    class Count(HTMLParser):
        articles, open_tags = 0, []

        def handle_starttag(self, tag, attrs):
            self.articles += tag == "article"

    parser = Count()
    parser.feed(text)
    assert parser.articles == len(glossary.entries())
    assert len(re.findall(r'id="term-[a-z-]+"', text)) == len(glossary.entries())
    assert "Measured:" in text and "<code>ann.apps.scratch.Conv2d</code>" in text


def test_cli_lists_explains_and_rejects():
    listing = ann("explain").stdout
    assert all(term in listing for term in REQUIRED)
    out = ann("explain", "bias", "term").stdout
    assert out.startswith("bias term") and "ann.apps.scratch.Linear" in out and "Measured now" in out
    line = fails_cleanly(ann("explain", "atention", check=False), "atention", "did you mean",
                         "attention")
    assert "ann explain" in line


def test_a_family_keeps_its_entry_beside_its_recipes():
    # ann.recipes.explain: the Hopfield family's entry lives in recipes/hopfield.py, not here
    from ann.recipes import TERMS

    assert "hopfield network" in TERMS
    entry = glossary.lookup("Associative memory")
    assert entry.term == "hopfield network" and entry in glossary.entries()
    kept = [int(n) for n in re.findall(r"(\d+) of 30", entry.figure())]
    assert len(kept) == 2 and kept[0] < 10 and kept[1] == 30   # Hebbian fails at load 0.3
