"""Recipes of the transformer family.

The Transformer family: GPT, Llama, the encoder-decoder, BERT, ViT, CLIP, the captioner and T5.
"""

from collections.abc import Callable

from . import Recipe, Term, TourStop, add, explain

# Language models. nanoGPT's CPU configuration (REFERENCES.md): 4 layers, 4 heads, 128 wide,
# block 64, batch 12, 2000 iterations, lr 1e-3 decayed to 1e-4, warmup 100, beta2 0.99.
NANOGPT_CPU = dict(batch_size=12, max_steps=2000, lr=1e-3, min_lr=1e-4, warmup_steps=100,
                   beta2=0.99, weight_decay=0.1, grad_clip=1.0, eval_every=250, log_every=50,
                   eval_batch_size=128)

add(Recipe(
    "gpt-shakespeare", "gpt", "shakespeare", "loss", 1.88,
    "character-level GPT on tiny Shakespeare, nanoGPT's CPU configuration",
    preset="cpu", train=NANOGPT_CPU,
    reference="nanoGPT CPU config: val loss ~1.88 after 2000 iterations"))
add(Recipe(
    "gpt-shakespeare-full", "gpt", "shakespeare", "loss", 1.47,
    "character-level GPT 6x384 on tiny Shakespeare, nanoGPT's default configuration (a GPU job: "
    "~10 hours on 2 CPU cores)",
    preset="small",
    train={**NANOGPT_CPU, "batch_size": 64, "max_steps": 5000},
    reference="nanoGPT default config: val loss 1.4697 after 5000 iterations (one A100, ~3 min)"))
add(Recipe(
    "gpt-pydoc", "gpt", "pydoc", "loss", 4.2,
    "GPT with byte-level BPE on Python's own documentation (embedded; writes English-like text)",
    preset="cpu", model_overrides=dict(block_size=128, dropout=0.1),
    train={**NANOGPT_CPU, "batch_size": 16, "max_steps": 1500},
    tour=TourStop("gpt", 235, dict(max_steps=1000, eval_every=500))))   # test loss 4.12 (idle, 2 cores)
add(Recipe(
    "llama-pydoc", "llama", "pydoc", "loss", 4.2,
    "Llama (RMSNorm, rotary positions, SwiGLU, grouped-query attention) with byte-level BPE on "
    "Python's documentation, gpt-pydoc's size and budget (embedded; target is gpt-pydoc's, not "
    "yet measured for Llama)",
    preset="cpu", model_overrides=dict(block_size=128),
    train={**NANOGPT_CPU, "batch_size": 16, "max_steps": 1500}))
add(Recipe(
    "gpt-ptb", "gpt", "ptb", "perplexity", 150.0,
    "word-level GPT on Penn Treebank (the data and 10k vocabulary of lstm-ptb: test perplexities "
    "compare directly)",
    preset="cpu", model_overrides=dict(dropout=0.2),
    train={**NANOGPT_CPU, "batch_size": 32},
    reference="Zaremba et al. 2014 small LSTM (2x200): test perplexity 115.91"))
add(Recipe(
    "gpt-wikitext2", "gpt", "wikitext2", "loss", 4.5,
    "GPT with byte-level BPE (8,192 tokens) on WikiText-2 (needs the data: not in the offline "
    "set; downloads where a network exists)",
    preset="cpu", model_overrides=dict(block_size=128, dropout=0.1),
    train={**NANOGPT_CPU, "batch_size": 32, "max_steps": 4000}))

# Encoder-decoder Transformer (Vaswani et al. 2017). The Multi30k row follows the widely used
# tutorial (REFERENCES.md): 3+3 layers, width 256, 8 heads, FF 512, dropout 0.1, post-LN, Adam at
# a constant 5e-4, batch 128, gradients clipped to norm 1, 10 epochs, greedy decoding.
add(Recipe(
    "transformer-numbers", "transformer", "numbers", "exact_match", 0.99,
    "encoder-decoder Transformer writing numbers in English words, 4721 -> four thousand seven "
    "hundred twenty one (embedded; under a minute)",
    preset="small",
    train=dict(max_steps=800, batch_size=64, lr=2e-3, warmup_steps=100, grad_clip=1.0,
               eval_every=200, log_every=50),
    tour=TourStop("transformer", 9, dict(max_steps=400, eval_every=200))))
add(Recipe(
    "transformer-multi30k", "transformer", "multi30k", "bleu", 36.5,
    "the tutorial's Transformer (3+3 layers, 256 wide) translating Multi30k German -> English; "
    "BLEU on lowercased word tokens",
    preset="tutorial",
    train=dict(epochs=10, batch_size=128, lr=5e-4, schedule="constant", grad_clip=1.0,
               log_every=50, eval_batch_size=250),
    reference="tutorial Transformer 3+3x256, 10 epochs: BLEU 36.52"))

# BERT (Devlin et al. 2019) at BERT-Tiny's shape (Turc et al. 2019: 2 layers, 2 heads, 128 wide):
# masked-LM pretraining, then fine-tuning on the labels with the same encoder. AdamW with warmup
# and linear decay, weight decay 0.01 and dropout 0.1 as in the paper (appendix A.2, A.3).
BERT_MLM = dict(batch_size=128, lr=2e-3, warmup_steps=100, schedule="linear", weight_decay=0.01,
                beta2=0.98, grad_clip=1.0, log_every=20)
add(Recipe(
    "bert-pydoc", "bert", "pydoc-mlm", "accuracy", 0.35,
    "BERT masked-LM on Python's documentation, WordPiece (embedded; a few minutes); "
    "try `ann fill RUN \"the [MASK] statement\"`",
    preset="L2-H128", train={**BERT_MLM, "batch_size": 32, "max_steps": 600, "eval_every": 200},
    tour=TourStop("bert", 46, dict(max_steps=300, eval_every=100))))
# SST-2's ~7k distinct training sentences are too little text for the masked LM: 2,000 steps on them
# alone (17% masked-token accuracy) left fine-tuning below training from scratch (78.6 vs 81.0%);
# with the Penn Treebank's and Multi30k's English added (2.7 M tokens) 10,000 steps reach 33% and
# fine-tuning 81.7%, 20,000 steps 34% and 82.4%: above scratch and the 82% target (BENCHMARKS.md).
add(Recipe(  # no dropout: ~2 passes over the text underfit rather than overfit
    "bert-sst2-mlm", "bert", "sst2-mlm", "accuracy", 0.15,
    "BERT masked-LM pretraining on SST-2's training sentences (no labels) with the Penn "
    "Treebank's and Multi30k's English text, the start of bert-sst2 (~80 min on one core)",
    preset="L2-H128", model_overrides=dict(dropout=0.0), data=dict(extra_text="ptb,multi30k"),
    train={**BERT_MLM, "batch_size": 64, "max_steps": 20000, "eval_every": 2000}))
add(Recipe(
    "bert-sst2", "bert-classifier", "sst2", "accuracy", 0.82,
    "BERT-Tiny pretrained by masked LM on SST-2's sentences (bert-sst2-mlm, run first), then "
    "fine-tuned on the labels; test = GLUE dev",
    preset="L2-H128", pretrain="bert-sst2-mlm",
    train=dict(epochs=1, batch_size=32, lr=5e-4, warmup_steps=200, schedule="linear",
               weight_decay=0.01, grad_clip=1.0, eval_every=500, log_every=50),
    reference="BERT-Tiny (Google pretraining) 83.2 GLUE test"))

# Vision Transformer and multimodal models (issue 4): ViT classifiers with attention rollout
# (rollout.png), a CLIP-style dual encoder (zero-shot accuracy from class prompts, retrieval
# recall@1/@5) and a ViT + GPT-style captioner (exact match and BLEU against the generator's truth).
VIT_TRAIN = dict(batch_size=128, lr=1e-3, weight_decay=0.05, warmup_steps=300, beta2=0.99,
                 grad_clip=1.0, log_every=50, eval_batch_size=500)
add(Recipe(
    "vit-digits", "vit", "digits", "accuracy", 0.95,
    "Vision Transformer on scikit-learn's 8x8 digits, 2x2 patches (embedded; ~30 s on one core); "
    "attention rollout in rollout.png",
    preset="digits",
    train=dict(epochs=25, batch_size=32, lr=2e-3, weight_decay=0.05, warmup_steps=50,
               eval_batch_size=500),
    tour=TourStop("vit", 8)))
add(Recipe(
    "vit-mnist", "vit", "mnist", "accuracy", 0.985,
    "Vision Transformer (patch 4, width 64, 6 layers, 4 heads) on MNIST, images shifted by up "
    "to a pixel",
    preset="small", data=dict(augment_shift=1), train=dict(VIT_TRAIN, epochs=30),
    reference="small ViT (patch 4, width 64, 6 layers, 4 heads), 100 epochs: 99.5% test"))
add(Recipe(
    "vit-fashion", "vit", "fashion-mnist", "accuracy", 0.91,
    "Vision Transformer (patch 4, width 64, 6 layers, 4 heads) on Fashion-MNIST, images "
    "flipped and shifted by up to a pixel",
    preset="small", data=dict(augment_flip=True, augment_shift=1),
    train=dict(VIT_TRAIN, epochs=50),
    reference="small ViT (patch 4, width 64, 6 layers, 4 heads), 100 epochs: 92.3% test"))
# Short CLIP runs learn more at a constant rate after warmup than under a cosine decay (on
# clip-digits: zero-shot 0.75 against 0.61).
CLIP_TRAIN = dict(batch_size=128, lr=1e-3, weight_decay=0.1, warmup_steps=100, beta2=0.98,
                  grad_clip=1.0, schedule="constant", log_every=25, eval_batch_size=500)
add(Recipe(
    "clip-digits", "clip", "digits-captions", "zero_shot", 0.7,
    "CLIP-style dual encoder on scikit-learn's digits with templated captions; zero-shot "
    "accuracy from the held-out prompt 'a photo of the digit seven' (embedded; ~30 s)",
    preset="digits", train=dict(CLIP_TRAIN, epochs=40, warmup_steps=30),
    tour=TourStop("clip", 10)))
add(Recipe(
    "clip-shapes", "clip", "shapes-captions", "zero_shot", 0.9,
    "CLIP-style dual encoder on generated scenes of 1-2 shapes and their captions; zero-shot "
    "over the 36 one-object descriptions, retrieval recall@1/@5 (embedded; retrieval.png)",
    train=dict(CLIP_TRAIN, epochs=20)))
add(Recipe(
    "clip-mnist", "clip", "mnist-captions", "zero_shot", 0.8,
    "CLIP-style dual encoder on MNIST with templated captions; zero-shot accuracy on the test "
    "set from the held-out prompt 'a photo of the digit seven' alone",
    preset="mnist", train=dict(CLIP_TRAIN, epochs=2)))
CAPTION_TRAIN = dict(batch_size=64, lr=1e-3, weight_decay=0.05, warmup_steps=200,
                     grad_clip=1.0, log_every=50, eval_batch_size=500)
add(Recipe(
    "captioner-shapes1", "captioner", "shapes1-captions", "exact_match", 0.7,
    "ViT + GPT-style captioner on scenes of one shape ('a large blue triangle'): size, colour "
    "and shape from pixels (embedded; ~45 s; captions.png)",
    preset="small", train=dict(CAPTION_TRAIN, epochs=10, lr=2e-3, warmup_steps=50)))
add(Recipe(
    "captioner-shapes", "captioner", "shapes-captions", "exact_match", 0.7,
    "ViT encoder + GPT-style decoder with cross-attention captioning generated scenes of 1-2 "
    "shapes; exact match and BLEU against the generator's captions (embedded; captions.png)",
    train=dict(CAPTION_TRAIN, epochs=16)))


# T5 (issue 4): one encoder-decoder for many text-to-text tasks told apart by a prefix, and its
# span-corruption pretraining. Per-task exact match and BLEU are in the test metrics.
# t5-multi30k-sst2 is sized for one CPU core (3+3 x 128, 6 epochs of ~920 steps: about 80 minutes).
# The 4+4 x 256 shape for a GPU: model.n_encoder_layers=4 model.n_decoder_layers=4
# model.d_model=256 model.d_ff=1024 train.epochs=10 (the t5 model's "base" preset).
T5_TRAIN = dict(batch_size=64, lr=1e-3, min_lr=1e-5, warmup_steps=100, grad_clip=1.0,
                weight_decay=0.01, log_every=50, eval_batch_size=500)
add(Recipe(
    "t5-tasks", "t5", "t5-tasks", "exact_match", 0.95,
    "T5 learning four generated tasks at once, told apart by their prefix: reverse:, sort:, "
    "add:, date: (embedded; exact match per task; try `ann generate RUN --prompt \"date: "
    "2024-03-07\"`)",
    preset="small", train=dict(T5_TRAIN, max_steps=3000, eval_every=500)))
add(Recipe(
    "t5-tasks-tiny", "t5", "t5-tasks", "exact_match", 0.2,
    "t5-tasks in about half a minute on one core (the tour): a 2+2-layer T5, 400 steps; sorting "
    "is learned first (~75%), the copying tasks only begin",
    preset="mini", train=dict(T5_TRAIN, lr=3e-3, min_lr=1e-4, max_steps=400, eval_every=400),
    tour=TourStop("t5", 19)))
add(Recipe(
    "t5-pretrain-pydoc", "t5-span", "pydoc-spans", "accuracy", 0.3,
    "T5 span-corruption pretraining on Python's documentation (embedded): ~15% of the tokens "
    "dropped in spans of mean length 3, each replaced by a sentinel; try `ann generate RUN "
    "--prompt \"the <extra_id_0> statement\"`",
    preset="small", train=dict(T5_TRAIN, batch_size=32, max_steps=1500, eval_every=500)))
add(Recipe(
    "t5-multi30k-sst2", "t5", "multi30k-sst2", "translate_bleu", 30.0,
    "one T5 translating Multi30k German -> English and classifying SST-2 sentiment at once, "
    "prefixes translate German to English: and sst2 sentence: (BLEU and accuracy per task)",
    preset="small", model_overrides=dict(dropout=0.1),
    train=dict(T5_TRAIN, batch_size=64, lr=1e-3, epochs=6, warmup_steps=300),
    reference="transformer-multi30k (3+3x256, 10 epochs): BLEU 36.16; bert-sst2 accuracy"))


# Llama's two departures from GPT's block that the glossary does not cover elsewhere (RMSNorm and
# rotary positions have their general entries).
def _kv_cache_saving() -> str:
    from ..registry import model_entry

    p = model_entry("llama").presets["smollm-135m"]
    hs = p["n_embd"] // p["n_head"]
    per_token = 2 * p["n_layer"] * p["n_kv_head"] * hs * 4  # keys and values, float32 bytes
    full = 2 * p["n_layer"] * p["n_head"] * hs * 4
    return (f"SmolLM-135M's shape ({p['n_head']} query heads, {p['n_kv_head']} key/value heads): "
            f"{per_token / 1024:.0f} KiB of cache per token instead of {full / 1024:.0f} KiB, "
            f"{full // per_token}x less")


explain(Term(
    "grouped-query attention",
    "Attention with fewer key/value heads than query heads: each key/value head is shared by a "
    "group of query heads (Ainslie et al. 2023). The keys and values cached during generation "
    "shrink by the group size at little cost in quality; one key/value head for all is "
    "multi-query attention (Shazeer 2019). Llama 2 and 3, Mistral and Qwen2 use it.",
    ("ann.models.transformer.llama.Attention", "ann.layers.attention.KVCache"),
    ("gqa", "multi-query attention", "mqa", "key value heads"), _kv_cache_saving))
explain(Term(
    "swiglu",
    "A gated feed-forward layer: down(silu(gate(x)) * up(x)), one projection deciding how much "
    "of the other passes (Shazeer 2020, a variant of Dauphin et al.'s gated linear unit). Better "
    "than a GELU MLP of the same parameter count; Llama makes it 2/3 of the usual 4x width so "
    "its three matrices cost what two did.",
    ("ann.models.transformer.llama.SwiGLU",),
    ("swish glu", "gated linear unit", "glu")))

# Extractive question answering (issue 25): BERT's span head on questions generated from the
# standard library's docstrings (ann.data.qa), started from the bert-pydoc masked LM (trained
# first, at this recipe's max_len); exact match and F1 as SQuAD scores them. The baseline, the
# docstring sentence sharing the most words with the question, is printed beside the result.
add(Recipe(
    "bert-qa-pydoc", "bert-qa", "pydoc-qa", "f1", 80.0,
    "BERT span extraction on questions about the standard library's docstrings (What does "
    "`f` return / raise?), from bert-pydoc's masked LM; try `ann ask RUN --context FILE "
    "\"What does `f` return?\"`",
    preset="L2-H128", pretrain="bert-pydoc",
    train=dict(max_steps=400, pretrain_steps=200, batch_size=32, lr=1e-3, warmup_steps=40,
               schedule="linear",
               weight_decay=0.01, grad_clip=1.0, eval_every=100, log_every=20)))
explain(Term(
    "span extraction",
    "Answering a question by pointing into a passage: the model scores every token as the "
    "answer's start and as its end, and the answer is the span i <= j (at most max_answer_len "
    "tokens) with the best start[i] + end[j] (BERT on SQuAD, Devlin et al. 2019). Scoring the "
    "[CLS] position the same way stands for 'no answer', as for SQuAD 2.0.",
    ("ann.models.transformer.bert.BertQA", "ann.tasks.qa.best_spans"),
    aliases=("extractive question answering", "span head")))
explain(Term(
    "exact match",
    "The share of questions whose predicted answer equals a gold answer after SQuAD's "
    "normalisation: lowercase, punctuation and the articles a/an/the removed, whitespace "
    "collapsed. A question with several gold answers counts the best one.",
    ("ann.tasks.qa.exact_match", "ann.tasks.qa.normalize_answer"),
    aliases=("em",)))
explain(Term(
    "word-overlap f-measure",
    "SQuAD's partial credit: the normalised predicted and gold answers as bags of words, "
    "precision = shared words / predicted words, recall = shared words / gold words, F1 their "
    "harmonic mean (1 when both answers are empty, 0 when one is), the best over the gold "
    "answers, averaged over questions.",
    ("ann.tasks.qa.f1_score", "ann.tasks.qa.squad_scores"),
    aliases=("f1", "f1 score", "squad f1", "token f1")))


def _default_parameters(name: str, what: str) -> Callable[[], str]:
    """A figure: the parameter count of registered model ``name`` at its default size."""
    def figure() -> str:
        from ..registry import create_model

        n = sum(p.numel() for p in create_model(name).parameters())
        return f"ann's {what} at its default (CPU) size has {n:,} parameters; `ann list` shows each recipe's."
    return figure


explain(Term(
    "gpt",
    "A decoder-only Transformer trained to predict the next token of text (Radford et al. 2018, "
    "2019): a causal mask lets each position attend only to earlier ones, and generation feeds "
    "each sampled token back in. Pretrained on much text, one such model continues, answers and "
    "imitates.",
    ("ann.models.transformer.gpt.GPT", "ann.tasks.lm.LanguageModeling"),
    ("generative pretrained transformer", "gpt-2", "causal language model"),
    _default_parameters("gpt", "GPT")))
explain(Term(
    "bert",
    "An encoder-only Transformer pretrained by masked-language modelling: some tokens are hidden "
    "and the model predicts them from both sides (Devlin et al. 2019). Fine-tuned with a small "
    "head on its first token's vector, it classifies sentences; with start and end scores per "
    "token, it extracts answers.",
    ("ann.models.transformer.bert.BertMLM", "ann.models.transformer.bert.BertEncoder"),
    ("masked language model", "mlm", "bidirectional encoder"),
    _default_parameters("bert", "BERT")))
explain(Term(
    "t5",
    "The text-to-text Transformer (Raffel et al. 2020): an encoder-decoder that casts every task "
    "as text in, text out ('translate: ...', 'sort: ...'), with relative position biases in "
    "attention instead of position embeddings, and pretraining by filling in dropped spans.",
    ("ann.models.transformer.t5.T5", "ann.models.transformer.t5.relative_position_bucket"),
    ("text-to-text transfer transformer", "text to text", "span corruption"),
    _default_parameters("t5", "T5")))
explain(Term(
    "vision transformer",
    "A Transformer encoder over an image cut into patches (Dosovitskiy et al. 2021): each patch "
    "is flattened and projected to a token, a learned class token is prepended, and its output "
    "is classified. With no convolution it has less built-in bias, so it needs more data or "
    "augmentation.",
    ("ann.models.transformer.vit.ViT", "ann.models.transformer.vit.attention_rollout"),
    ("vit", "patch embedding", "image transformer"),
    _default_parameters("vit", "ViT")))
explain(Term(
    "clip",
    "Contrastive language-image pretraining (Radford et al. 2021): an image encoder and a text "
    "encoder trained so that each picture's embedding is closest to its own caption's among the "
    "batch. Classes can then be named in words, and an image is classified zero-shot by the "
    "caption it matches best.",
    ("ann.models.transformer.clip.CLIP", "ann.tasks.contrastive.Contrastive"),
    ("contrastive language-image pretraining", "zero-shot", "multimodal", "contrastive learning"),
    _default_parameters("clip", "CLIP")))
