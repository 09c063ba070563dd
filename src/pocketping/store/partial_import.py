"""A library's submodule without its package's ``__init__``, for memory at rest.

Importing ``a.b.c`` runs ``a.b``'s ``__init__`` first, and ``sqlalchemy.ext.asyncio``'s imports
far more than the submodule PocketPing wants: its ``AsyncSession``, and with it all of
``sqlalchemy.orm`` (about 7 MB of a server's memory), for the engine and connection we use
(``store.async_engine``).

``submodule(package, name)``, when ``package`` is not imported yet, enters in ``sys.modules`` a
module made from the package's own spec whose ``__init__`` has not run, and imports the
submodule into it. The first time anything asks that package for a name it does not have
(``from sqlalchemy.ext.asyncio import AsyncSession`` in a test or a tool), its ``__init__`` runs
into it and the name is there, as if it had been imported the usual way. The objects are the
library's own either way; a package already imported, or laid out differently, is simply imported.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from types import ModuleType
from typing import Any

_lock = threading.RLock()
# Packages entered without their __init__, while one of their submodules is being imported:
# they answer no missing name then (``from . import exc`` must import the submodule).
_entering: set[str] = set()
_shells: set[str] = set()  # entered so, their __init__ not run yet


def submodule(package: str, name: str) -> ModuleType:
    full = f"{package}.{name}"
    with _lock:
        if full not in sys.modules and (package in _shells or (package not in sys.modules and _enter(package))):
            _entering.add(package)
            try:
                return importlib.import_module(full)
            finally:
                _entering.discard(package)
    return importlib.import_module(full)


def _enter(package: str) -> bool:
    parent_name, _, child = package.rpartition(".")
    parent = importlib.import_module(parent_name) if parent_name else None
    spec = importlib.util.find_spec(package)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return False  # not a package of files as expected: import it the usual way
    module = importlib.util.module_from_spec(spec)
    loader = spec.loader

    def __getattr__(attr: str) -> Any:
        # Dunder probes (``__wrapped__``, ``__test__`` ...) are answered as a plain module would,
        # and so is everything while a submodule is being imported into it.
        if (attr.startswith("__") and attr != "__all__") or package in _entering:
            raise AttributeError(f"module {package!r} has no attribute {attr!r}")
        with _lock:
            if package in _shells:
                _shells.discard(package)
                del vars(module)["__getattr__"]
                loader.exec_module(module)  # the package's own __init__, into this module
        return getattr(module, attr)

    vars(module)["__getattr__"] = __getattr__
    sys.modules[package] = module
    _shells.add(package)
    if parent is not None:
        setattr(parent, child, module)
    return True
