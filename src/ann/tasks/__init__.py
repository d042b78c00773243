"""Tasks: one module per objective, each a :class:`~ann.tasks.base.Task` registered by name.

Importing this package imports every module in it, so a new objective adds only its module.
"""

import importlib
import pkgutil

from ..registry import get_task, register_task
from .base import Task

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    importlib.import_module(f"{__name__}.{_module}")

__all__ = ["Task", "get_task", "register_task"]
