"""The rarer networks: GMDH, probabilistic and general regression networks, time-delay networks
and deep stacking networks. GMDH, PNN/GRNN and DSN are fitted in closed form (a ``fit`` method,
see ann.train.fitted); TDNN trains by gradient steps like the other families."""

from . import dsn, gmdh, pnn, tdnn
from .dsn import DSN
from .gmdh import GMDH, GMDHClassifier, GMDHForecaster
from .pnn import GRNN, PNN
from .tdnn import TDNN, XVectorTDNN

__all__ = ["DSN", "GMDH", "GMDHClassifier", "GMDHForecaster", "GRNN", "PNN", "TDNN", "XVectorTDNN",
           "dsn", "gmdh", "pnn", "tdnn"]
