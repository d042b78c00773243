"""Extreme learning machines: a random hidden layer and a linear output fitted in one solve."""

from .elm import ELM, ELMConfig

__all__ = ["ELM", "ELMConfig"]
