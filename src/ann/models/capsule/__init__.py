"""Capsule networks: vector capsules, dynamic routing by agreement, margin loss (Sabour et al. 2017)."""

from .capsnet import CapsNet, CapsNetConfig, margin_loss, route, squash

__all__ = ["CapsNet", "CapsNetConfig", "margin_loss", "route", "squash"]
