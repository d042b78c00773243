"""Echo state networks: a fixed random reservoir read out by ridge regression, for time series."""

from .esn import EchoStateNetwork, ESNConfig

__all__ = ["ESNConfig", "EchoStateNetwork"]
