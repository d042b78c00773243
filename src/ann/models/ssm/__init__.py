"""State-space models: Mamba's selective scan (Gu & Dao 2023)."""

from .mamba import Mamba, MambaConfig, parallel_scan, sequential_scan

__all__ = ["Mamba", "MambaConfig", "parallel_scan", "sequential_scan"]
