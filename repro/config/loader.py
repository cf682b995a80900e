"""The one strict loader for the kit's configuration files (repro/config/*.yaml).

    spec = load(ModelsFile, kit_file("models.yaml"))   # a frozen dataclass, every key checked

Each file's shape is a frozen dataclass whose field types say what is allowed: str, int,
float, bool, None, unions, Literal choices, tuple[X, ...] and list[X] (from YAML lists),
dict[str, X] and nested dataclasses. An unknown key, a missing one or a value of the wrong
type fails in one line naming the file, the key and the fix. A dataclass adds the checks that
types cannot say (ranges, cross-references) in `__post_init__`, raising ValueError; the loader
reports it with the file and key. Nothing here knows a particular file.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

import yaml

from repro.core.errors import ReproError
from repro.core.textio import decode

CONFIG_DIR = Path(__file__).resolve().parent
T = TypeVar("T")


class _Bad(Exception):
    """A problem at one key, carried up to where the file name is known."""

    def __init__(self, key: str, problem: str):
        super().__init__(problem)
        self.key, self.problem = key, problem


def read_yaml(path: str | Path) -> tuple[str, Any]:
    """(text, parsed YAML) of a configuration file, or one line saying what is wrong."""
    path = Path(path)
    try:
        text = decode(path.read_bytes(), shown(path))[0]  # a BOM, UTF-16 or CRLF from an editor
        return text, yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ReproError(f"{shown(path)}: cannot read it ({first}); restore it from git") from exc


def shown(path: Path) -> str:
    return path.name if path.parent == CONFIG_DIR else str(path)


def kit_file(name: str) -> Path:
    """One of the kit's own configuration files (they ship inside the package)."""
    return CONFIG_DIR / name


def load(cls: type[T], path: str | Path) -> T:
    """Build `cls` from the YAML file at `path` (see the module docstring)."""
    path = Path(path)
    _, raw = read_yaml(path)
    return build(cls, raw, shown(path))


def build(cls: type[T], raw: Any, where: str, key: str = "") -> T:
    """Build `cls` from already-parsed data; errors name `where` (a file) and the key."""
    try:
        return _build(cls, raw, key)
    except _Bad as bad:
        at = f"key '{bad.key}'" if bad.key else "top level"
        raise ReproError(f"{where}: {at}: {bad.problem}; fix it (the file's comments say "
                         "what each key means)") from None


def _join(key: str, part: str | int) -> str:
    if isinstance(part, int):
        return f"{key}[{part}]"
    return f"{key}.{part}" if key else str(part)


def _kind(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if tp is type(None):
        return "null"
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_kind(a) for a in typing.get_args(tp))
    if origin in (list, tuple):
        return "a list"
    if origin is dict or dataclasses.is_dataclass(tp):
        return "a mapping"
    return {str: "a string", int: "a whole number", float: "a number", bool: "true or false"}.get(
        tp, getattr(tp, "__name__", str(tp)))


def _got(value: Any) -> str:
    text = repr(value)
    return f"{text[:40]}..." if len(text) > 43 else text


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _build(tp: Any, value: Any, key: str) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return value
    if tp is type(None):
        if value is None:
            return None
        raise _Bad(key, f"expected null, got {_got(value)}")
    if origin in (Union, types.UnionType):
        for member in args:  # the first member that fits wins: order unions from strict to loose
            try:
                return _build(member, value, key)
            except _Bad:
                continue
        raise _Bad(key, f"expected {_kind(tp)}, got {_got(value)}")
    if origin is Literal:
        if value in args and not isinstance(value, bool):
            return value
        raise _Bad(key, f"expected {_kind(tp)}, got {_got(value)}")
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise _Bad(key, f"expected a list, got {_got(value)}")
        item = args[0] if args else Any
        built = [_build(item, v, _join(key, i)) for i, v in enumerate(value)]
        return built if origin is list else tuple(built)
    if origin is dict:
        if not isinstance(value, dict):
            raise _Bad(key, f"expected a mapping, got {_got(value)}")
        ktype, vtype = args or (Any, Any)
        return {_build(ktype, k, key): _build(vtype, v, _join(key, k)) for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return _dataclass(tp, value, key)
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    else:
        raise TypeError(f"the config loader does not know type {tp!r}")
    raise _Bad(key, f"expected {_kind(tp)}, got {_got(value)}")


def _dataclass(cls: type, value: Any, key: str) -> Any:
    if not isinstance(value, dict):
        raise _Bad(key, f"expected a mapping, got {_got(value)}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = [k for k in value if k not in fields]
    if unknown:
        raise _Bad(_join(key, str(unknown[0])),
                   f"unknown key (known here: {', '.join(fields)})")
    hints = _hints(cls)
    kwargs = {}
    for name, f in fields.items():
        if name in value:
            kwargs[name] = _build(hints[name], value[name], _join(key, name))
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise _Bad(_join(key, name), "missing (this key is required)")
    try:
        return cls(**kwargs)
    except ValueError as exc:
        raise _Bad(key, str(exc)) from None


def require(ok: bool, message: str) -> None:
    """For `__post_init__`: unless `ok`, raise the ValueError the loader reports with file and key."""
    if not ok:
        raise ValueError(message)
