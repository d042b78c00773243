"""Model families, one folder each; importing a family registers its models (see ann.registry).

Every subpackage is imported here, in the order of its name, so a new family adds only its folder.
"""

import importlib
import pkgutil

FAMILIES = tuple(sorted(m.name for m in pkgutil.iter_modules(__path__) if m.ispkg))
for _family in FAMILIES:
    importlib.import_module(f"{__name__}.{_family}")

__all__ = ["FAMILIES"]
