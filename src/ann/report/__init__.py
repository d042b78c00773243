"""Reports: model summaries (plots and the HTML report live beside them)."""

from .summary import count_parameters, summary

__all__ = ["count_parameters", "summary"]
