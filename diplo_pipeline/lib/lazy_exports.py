"""Names a module offers but imports only when first used, so that importing it stays cheap (a `diplo` query
must not pay for the renderers or for rich's tables it does not print)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def lazy_exports(module: str, package: str, exports: dict[str, str]) -> tuple[Callable[[str], Any], Callable]:
    """`__getattr__` and `__dir__` for `module`: each name of `exports` comes from `<package>.<submodule>` the
    first time it is asked for, and is then kept on the module."""

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{exports[name]}"), name)
        setattr(sys.modules[module], name, value)  # looked up once
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[module])) | set(exports))

    return __getattr__, __dir__
