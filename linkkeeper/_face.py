"""A stage package's public face, imported lazily: ``from linkkeeper.ledger import Ledger``
loads ``linkkeeper/ledger/store.py`` on first use, so importing a stage (or ``linkkeeper --help``)
stays cheap and a stage's modules may import each other in any order."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def lazy(package: str, face: dict[str, str]) -> Callable[[str], Any]:
    """The package's ``__getattr__``: each public name from the module ``face`` names."""

    def __getattr__(name: str) -> Any:
        where = face.get(name)
        if where is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(f"{package}.{where}")
        if where == name:
            value: Any = module
        elif hasattr(module, name):
            value = getattr(module, name)
        else:  # a module of a sub-package (``sites.arxiv``)
            value = importlib.import_module(f"{module.__name__}.{name}")
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
