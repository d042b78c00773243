"""Recipes of the recurrent family.

Recurrent networks (RNN, LSTM, GRU): language models, forecasting, classification, translation.
"""

from . import Recipe, Term, TourStop, add, explain

# Recurrent language models. Zaremba et al. 2014, small (REFERENCES.md): 2 x 200 LSTM, 20 steps,
# batch 20, SGD lr 1 for 4 epochs then halved every epoch, 13 epochs, clip 5, init +-0.1, no
# dropout. Their loss is summed over the 20 steps of a window (mean over the batch), ann's is the
# mean per token: lr 20 and clip 0.25 on the mean are the same update as lr 1 and clip 5 on the
# sum (the PyTorch word_language_model example uses the same pair).
ZAREMBA_SMALL = dict(epochs=13, batch_size=20, optimizer="sgd", momentum=0.0, lr=20.0,
                     schedule="step", decay_start=4, decay_factor=0.5, grad_clip=0.25,
                     log_every=200, eval_batch_size=1000)
add(Recipe(
    "lstm-ptb", "rnn-lm", "ptb", "perplexity", 116.0,
    "word-level 2x200 LSTM on Penn Treebank, Zaremba et al.'s small configuration (truncated "
    "BPTT with the state carried across batches)",
    preset="small", model_overrides=dict(cell="lstm"), train=ZAREMBA_SMALL,
    reference="Zaremba et al. 2014 small LSTM (2x200): test perplexity 115.91"))
add(Recipe(
    "gru-ptb", "rnn-lm", "ptb", "perplexity", 125.0,
    "word-level 2x200 GRU on Penn Treebank, trained as lstm-ptb at half its lr (for comparison; "
    "at lr 20 it diverged in epoch 3)",
    preset="small", model_overrides=dict(cell="gru"), train={**ZAREMBA_SMALL, "lr": 10.0},
    reference="Zaremba et al. 2014 small LSTM (2x200): test perplexity 115.91"))
add(Recipe(
    "rnn-ptb", "rnn-lm", "ptb", "perplexity", 160.0,
    "word-level 2x200 Elman RNN on Penn Treebank, trained as lstm-ptb at a lower lr (for "
    "comparison: the gap to the LSTM is the gates' worth)",
    preset="small", model_overrides=dict(cell="rnn"), train={**ZAREMBA_SMALL, "lr": 5.0},
    reference="Mikolov et al. 2011 (RNN LM, PTB): test perplexity ~141 (with more hidden units)"))
add(Recipe(
    "lstm-shakespeare", "rnn-lm", "shakespeare", "loss", 1.7,
    "character-level 2x256 LSTM on tiny Shakespeare (char-rnn; compare gpt-shakespeare)",
    preset="small", model_overrides=dict(cell="lstm", block_size=64, n_embd=64, hidden=256),
    train=dict(max_steps=2000, batch_size=32, lr=3e-3, min_lr=3e-4, grad_clip=1.0,
               eval_every=500, log_every=50, eval_batch_size=1000),
    reference="nanoGPT CPU config (GPT 4x128): val loss ~1.88 after 2000 iterations"))
add(Recipe(
    "lstm-pydoc", "rnn-lm", "pydoc", "loss", 4.5,
    "2x256 LSTM with byte-level BPE on Python's own documentation (embedded; compare gpt-pydoc)",
    preset="small", model_overrides=dict(cell="lstm", block_size=35, n_embd=256, hidden=256,
                                         dropout=0.1, init_range=0.05),
    train=dict(max_steps=3000, batch_size=32, lr=3e-3, min_lr=3e-4, grad_clip=1.0,
               eval_every=500, log_every=50, eval_batch_size=1000)))


# Forecasting. The target of each series row is the linear AR baseline's test RMSE (sunspots:
# AR(11) one year ahead, 17.73; Mackey-Glass: AR(50) 10 steps ahead, 0.0345): the recipe reaches
# it when the network beats that baseline. The naive forecast is far worse on both (29.3, 0.187).
FORECAST = dict(max_steps=1500, batch_size=32, lr=3e-3, min_lr=1e-4, weight_decay=1e-4,
                grad_clip=1.0, eval_every=100, log_every=50)
add(Recipe(
    "lstm-sunspots", "rnn-forecaster", "sunspots", "rmse", 17.73,
    "LSTM forecasting yearly sunspot numbers (embedded), against naive and linear AR forecasts; "
    "your own series: data.path=my.csv data.column=value",
    preset="small", model_overrides=dict(cell="lstm"), train=FORECAST))
add(Recipe(
    "rnn-sunspots", "rnn-forecaster", "sunspots", "rmse", 17.73,
    "Elman RNN forecasting yearly sunspot numbers (embedded), against the same baselines",
    preset="small", model_overrides=dict(cell="rnn"), train=FORECAST,
    tour=TourStop("rnn", 2)))
add(Recipe(
    "lstm-mackey-glass", "rnn-forecaster", "mackey-glass", "rmse", 0.0345,
    "LSTM forecasting the chaotic Mackey-Glass series 10 steps ahead (generated), against naive "
    "and linear AR forecasts",
    preset="small", model_overrides=dict(cell="lstm", hidden=64), train=FORECAST,
    tour=TourStop("lstm", 5)))

# Sequence classification with recurrent layers.
add(Recipe(
    "lstm-digits-rows", "rnn-classifier", "digits", "accuracy", 0.95,
    "LSTM reading each 8x8 digit one pixel row per step (embedded; seconds)",
    preset="rows", train=dict(epochs=30, batch_size=32, lr=3e-3, weight_decay=1e-4,
                              grad_clip=1.0, log_every=50)))
add(Recipe(
    "gru-digits-rows", "rnn-classifier", "digits", "accuracy", 0.95,
    "GRU reading each 8x8 digit one pixel row per step, as lstm-digits-rows (embedded; seconds)",
    preset="rows", model_overrides=dict(cell="gru"),
    train=dict(epochs=30, batch_size=32, lr=3e-3, weight_decay=1e-4, grad_clip=1.0, log_every=50),
    tour=TourStop("gru", 3, dict(epochs=15))))
add(Recipe(
    "gru-sst2", "rnn-classifier", "sst2", "accuracy", 0.78,
    "bidirectional GRU over WordPiece tokens, trained from scratch on SST-2 (test = GLUE dev; "
    "compare bert-sst2)",
    preset="text", train=dict(epochs=2, batch_size=64, lr=2e-3, weight_decay=1e-4,
                              grad_clip=1.0, eval_every=500, log_every=50, eval_batch_size=500),
    reference="Socher et al. 2013: LSTM-style recursive/recurrent baselines ~80-85% (SST-2)"))


# Recurrent translation: Luong et al. 2015's global attention over a bidirectional GRU encoder,
# the counterpart of transformer-numbers and transformer-multi30k (greedy decoding, BLEU).
add(Recipe(
    "seq2seq-attn-numbers", "seq2seq-attn", "numbers", "exact_match", 0.99,
    "GRU encoder-decoder with attention writing numbers in English words (embedded; compare "
    "transformer-numbers)",
    preset="small",
    train=dict(max_steps=1500, batch_size=64, lr=3e-3, min_lr=1e-4, grad_clip=1.0,
               eval_every=500, log_every=50)))
add(Recipe(
    "seq2seq-attn-multi30k", "seq2seq-attn", "multi30k", "bleu", 30.0,
    "GRU encoder-decoder with Luong attention translating Multi30k German -> English (compare "
    "transformer-multi30k); BLEU on lowercased word tokens",
    preset="base",
    train=dict(epochs=10, batch_size=128, lr=1e-3, schedule="constant", grad_clip=1.0,
               log_every=50, eval_batch_size=250),
    reference="tutorial Transformer 3+3x256, 10 epochs: BLEU 36.52 (transformer-multi30k)"))


# Speech recognition with CTC (issue 25): FSDD digits joined into strings of 3-7 digits, a
# bidirectional GRU over log-mel frames (four frames per step), CTCLoss, greedy decoding; the
# speaker held out of training is scored separately (speaker.json, `ann eval --split speaker`).
add(Recipe(
    "ctc-fsdd", "ctc-rnn", "fsdd-strings", "wer", 0.05,
    "bidirectional GRU with CTC transcribing strings of 3-7 spoken digits (Free Spoken Digit "
    "Dataset recordings joined with random silences; one speaker held out)",
    preset="base",
    train=dict(epochs=10, batch_size=32, lr=2e-3, min_lr=1e-4, grad_clip=1.0, length_buckets=8,
               log_every=50, eval_batch_size=100),
    reference="Graves et al. 2006: CTC with a BLSTM, TIMIT phoneme error rate 30.5%"))
add(Recipe(
    "ctc-tones", "ctc-rnn", "tone-strings", "wer", 0.05,
    "bidirectional GRU with CTC transcribing generated strings of digit tones (embedded; "
    "seconds; the shape of ctc-fsdd without speech)",
    preset="small",
    train=dict(epochs=20, batch_size=32, lr=3e-3, min_lr=1e-4, grad_clip=1.0, log_every=50,
               eval_batch_size=100)))

explain(Term(
    "ctc",
    "Connectionist temporal classification (Graves et al. 2006) trains a network that scores "
    "every input step, with an extra 'blank' class, without knowing where each label falls: a "
    "path of one class per step reads as the labels left after merging repeats and dropping "
    "blanks ('--44-7' reads '4 7'), and the loss is minus the log of the summed probability of "
    "all paths that read as the transcript (torch.nn.CTCLoss). Greedy decoding takes each "
    "step's best class; prefix beam search keeps the likeliest transcripts with all their "
    "paths' probability.",
    ("ann.tasks.transcribe.Transcription", "ann.tasks.transcribe.beam_decode",
     "ann.models.recurrent.ctc.CTCRecognizer"),
    ("connectionist temporal classification", "ctc loss", "prefix beam search",
     "speech recognition")))
explain(Term(
    "word error rate",
    "How speech recognition is scored: the fewest substituted, deleted and inserted words that "
    "turn the transcripts into the references (edit distance), over the number of reference "
    "words, summed over the corpus; it can pass 1 when many words are inserted. The character "
    "error rate counts characters the same way.",
    ("ann.metrics.wer", "ann.metrics.cer", "ann.metrics.edit_distance"),
    ("wer", "character error rate", "cer", "edit distance", "levenshtein distance")))


def _gate_parameters() -> str:
    """Parameters of one recurrent layer of each cell, at one size."""
    from ..layers.recurrent import Recurrent

    n = {cell: sum(p.numel() for p in Recurrent(cell, 32, 64).parameters())
         for cell in ("rnn", "lstm", "gru")}
    return (f"one layer of 64 units reading 32 features: RNN {n['rnn']:,} parameters, GRU "
            f"{n['gru']:,} ({n['gru'] / n['rnn']:.0f}x: two gates and a candidate), LSTM "
            f"{n['lstm']:,} ({n['lstm'] / n['rnn']:.0f}x: three gates and a candidate).")


explain(Term(
    "lstm",
    "Long short-term memory (Hochreiter & Schmidhuber 1997): a recurrent unit with a cell state "
    "that is carried from step to step by addition, and three gates, sigmoid valves computed "
    "from the input and the previous output, that decide what to forget, what to write and what "
    "to show. Because the cell is updated by addition, gradients survive hundreds of steps "
    "where a plain RNN's vanish.",
    ("ann.layers.recurrent.lstm_cell", "ann.layers.recurrent.Recurrent",
     "ann.models.recurrent.lm.RecurrentLM"),
    ("long short-term memory", "lstm cell", "forget gate"), _gate_parameters))
explain(Term(
    "gru",
    "The gated recurrent unit (Cho et al. 2014): a lighter LSTM with no separate cell state, "
    "where an update gate blends the previous state with a candidate and a reset gate decides "
    "how much of the past the candidate sees. It often matches the LSTM with a quarter fewer "
    "parameters.",
    ("ann.layers.recurrent.gru_cell", "ann.layers.recurrent.Recurrent"),
    ("gated recurrent unit", "update gate", "reset gate"), _gate_parameters))
