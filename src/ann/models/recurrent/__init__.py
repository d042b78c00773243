"""The recurrent family: Elman RNN, LSTM and GRU models (cells in ``ann.layers.recurrent``)."""

from . import classifier, ctc, forecaster, lm, seq2seq_attn

__all__ = ["classifier", "ctc", "forecaster", "lm", "seq2seq_attn"]
