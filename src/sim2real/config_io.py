"""One loader for every YAML file the project reads, with errors that name the file and key."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from sim2real.errors import ConfigError


def load_yaml(path: str | Path) -> dict:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: no such file")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected a mapping at the top level")
    return data


def get(d: dict, key: str, kind: type | tuple, where: str, default: Any = ...) -> Any:
    """d[key] checked against kind; a missing key without default is an error naming `where.key`."""
    if key not in d:
        if default is ...:
            raise ConfigError(f"{where}: missing key '{key}'")
        return default
    v = d[key]
    if kind is float and isinstance(v, int) and not isinstance(v, bool):
        v = float(v)
    if not isinstance(v, kind) or (isinstance(v, bool) and kind in (int, float, (int, float))):
        name = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise ConfigError(f"{where}.{key}: expected {name}, got {type(v).__name__} ({v!r})")
    return v


def floats(v: Any, n: int | None, where: str) -> list[float]:
    """A list of n numbers (any n when None)."""
    if not isinstance(v, (list, tuple)) or any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in v):
        raise ConfigError(f"{where}: expected a list of numbers, got {v!r}")
    if n is not None and len(v) != n:
        raise ConfigError(f"{where}: expected {n} numbers, got {len(v)}")
    return [float(x) for x in v]
