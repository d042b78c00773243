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
            "layer normalization", "tokenizer", "perplexity", "gradient", "hyperparameter",
            "updating embeddings"]
# Every family of the design answers `ann explain NAME` with an entry of its own (issue 29).
FAMILIES = {"mlp": "feed-forward", "cnn": "convolution", "rnn": "recurrent network", "lstm": "lstm",
            "gru": "gru", "autoencoder": "autoencoder", "vae": "variational autoencoder",
            "denoising autoencoder": "denoising autoencoder",
            "gan": "generative adversarial network", "gnn": "message passing", "gmdh": "gmdh",
            "pnn": "probabilistic neural network", "tdnn": "time-delay neural network",
            "dsn": "deep stacking network", "transformer": "transformer", "gpt": "gpt",
            "bert": "bert", "t5": "t5", "vit": "vision transformer", "clip": "clip"}


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
    assert len(re.findall(r'id="term-[a-z0-9-]+"', text)) == len(glossary.entries())
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


@pytest.mark.parametrize("name, term", FAMILIES.items())
def test_every_family_has_its_entry(name, term):
    assert glossary.lookup(name).term == term


@pytest.mark.parametrize("text, first", [
    ("Normalise over features (Ba et al. 2016), so it works. Second.",
     "Normalise over features (Ba et al. 2016), so it works."),
    ("Sums, e.g. of kernels. Then more.", "Sums, e.g. of kernels."),
    ("As G. E. Hinton showed. More.", "As G. E. Hinton showed."),
    ("No full stop at all", "No full stop at all."),
    ("Ends at the end.", "Ends at the end."),
])
def test_first_sentence_passes_abbreviations_and_initials(text, first):
    assert glossary.first_sentence(text) == first


def test_listing_keeps_sentences_with_et_al_whole():
    rows = {line.split("  ")[0].strip(): line for line in glossary.listing().splitlines() if line}
    assert "(Ba et al. 2016), so it behaves the same" in rows["layer normalization"]
    assert "(Graves et al. 2006) trains a network" in rows["ctc"]
    assert not any(line.rstrip().endswith("et al.") for line in rows.values())


def test_updating_embeddings_figure_is_measured_from_the_scratch_word_model():
    from ann.apps.scratch import words

    h = words.train_words(epochs=10).history
    figure = glossary.lookup("embedding gradient").figure()
    assert f"{h[0]['same_kind']:.2f} to {h[-1]['same_kind']:.2f}" in figure
    assert "ann.apps.scratch.Embedding.backward" in glossary.explain("updating embeddings")
