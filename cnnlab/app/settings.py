"""Reading saved settings so that no saved value can stop the app from starting.

The settings file is the user's to edit (or to corrupt): every value a panel restores goes
through :func:`read`, which checks its type, range and size and falls back to the
default when the value cannot be used. Each fallback leaves a note ("train/batch_size:
1e12 is outside 1…4096; using 64"); the main window shows the notes on the status line
after start-up (:func:`take_notes`). ``cnnlab --reset-settings`` calls :func:`reset`.

Kinds: ``int`` and ``float`` (finite, within ``lo``…``hi``), ``bool``, ``str`` (at most
``max_len`` characters; ``choices`` limits it to a set), ``bytes`` (a ``QByteArray`` such as
a saved window geometry, at most ``max_len`` bytes) and ``json`` (text of at most
``max_len`` characters holding JSON; ``check`` may reject or convert what it holds).
"""

from __future__ import annotations

import json
import math
import sys
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from PyQt6.QtCore import QByteArray, QSettings

from cnnlab.data.npz import atomic_write_bytes

#: The organisation and application names the app's settings are stored under.
ORGANIZATION = APPLICATION = "cnnlab"
#: Longest text (characters) and blob (bytes) restored unless a key says otherwise.
MAX_TEXT = 1000
MAX_BYTES = 64 * 1024

_notes: weakref.WeakKeyDictionary[QSettings, list[str]] = weakref.WeakKeyDictionary()


class _Unusable(ValueError):
    """Why a stored value cannot be used (the text of a note)."""


def app_settings() -> QSettings:
    """The user's settings store (what ``MainWindow`` uses when given none)."""
    return QSettings(ORGANIZATION, APPLICATION)


def reset(settings: QSettings | None = None) -> str:
    """Remove every saved setting; returns where they were stored (for a message)."""
    settings = settings if settings is not None else app_settings()
    settings.clear()
    settings.sync()
    return settings.fileName()


def strip_python_objects(settings: QSettings) -> None:
    """Remove stored Python objects from an INI settings file before anything is read.

    PyQt saves a value it cannot map to a Qt type as a pickle (``@Variant(…PyQt_PyObject…)``)
    and unpickles it when the section is first read, which would run code from a file
    anyone could edit. Those lines are dropped from the file (atomically) and noted."""
    ini = settings.format() == QSettings.Format.IniFormat or (
        settings.format() == QSettings.Format.NativeFormat
        and not sys.platform.startswith(("win", "darwin")))
    if not ini:
        return  # the registry and plists are not files of lines
    path = settings.fileName()
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return  # no settings yet
    if b"PyQt_PyObject" not in data:
        return
    lines = data.split(b"\n")
    kept = [line for line in lines if b"PyQt_PyObject" not in line]
    dropped = [line.split(b"=", 1)[0].strip().decode("utf-8", "replace")
               for line in lines if b"PyQt_PyObject" in line]
    try:
        atomic_write_bytes(path, b"\n".join(kept))
    except OSError as exc:
        settings.clear()  # cannot clean the file: read none of it
        _note(settings, f"could not remove Python objects from {path} ({exc}); using defaults")
        return
    settings.sync()  # re-read the cleaned file
    _note(settings, f"{', '.join(dropped)}: stored Python objects are never loaded; removed")


def read(settings: QSettings, key: str, default: Any, kind: str, *, lo: float | None = None,
         hi: float | None = None, choices: Iterable | None = None, max_len: int | None = None,
         check: Callable[[Any], Any] | None = None) -> Any:
    """The value stored under ``key`` as ``kind``, or ``default`` when none is stored or
    the stored one is unusable (then a note is kept for :func:`take_notes`). Never raises
    for anything in the settings file."""
    try:
        raw = settings.value(key)
    except Exception as exc:
        _note(settings, f"{key}: unreadable ({type(exc).__name__}); using the default")
        return default
    if raw is None:
        return default
    try:
        value = _convert(raw, kind, lo, hi, choices, max_len)
        return check(value) if check is not None else value
    except Exception as exc:  # a value of any shape, e.g. JSON a check indexes wrongly
        using = "the default" if default is None else _short(default)
        _note(settings, f"{key} = {_short(raw)}: {exc}; using {using}")
        return default


def read_spin(settings: QSettings, key: str, box) -> None:
    """Set a ``QSpinBox``/``QDoubleSpinBox`` from ``key`` if the stored number lies within
    the box's own range (signals are not blocked: the panel reacts as to a user edit)."""
    kind = "float" if isinstance(box.value(), float) else "int"
    value = read(settings, key, box.value(), kind, lo=box.minimum(), hi=box.maximum())
    box.setValue(value)


def take_notes(settings: QSettings) -> list[str]:
    """The notes left by :func:`read` for ``settings`` since the last call (then cleared)."""
    return _notes.pop(settings, [])


def summary(notes: list[str], limit: int = 3) -> str:
    """One short status-line sentence naming the keys of ``notes`` (the first few, then a
    count); the notes themselves say why."""
    if not notes:
        return ""
    keys = [n.split(" = ")[0].split(":")[0] for n in notes]
    more = f" and {len(keys) - limit} more" if len(keys) > limit else ""
    noun = "setting" if len(keys) == 1 else "settings"
    return (f"{len(keys)} saved {noun} could not be used and went back to the default: "
            f"{', '.join(keys[:limit])}{more}")


# --------------------------------------------------------------------------- conversion

def _convert(raw: Any, kind: str, lo, hi, choices, max_len) -> Any:
    if kind == "bytes":
        if not isinstance(raw, QByteArray):
            raise _Unusable(f"expected saved bytes, found {type(raw).__name__}")
        if raw.size() > (max_len or MAX_BYTES):
            raise _Unusable(f"{raw.size():,} bytes is more than {max_len or MAX_BYTES:,}")
        return raw
    if kind in ("int", "float"):
        number = _number(raw, kind)
        if (lo is not None and number < lo) or (hi is not None and number > hi):
            raise _Unusable(f"outside {_short(lo)}…{_short(hi)}")
        return number
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, int) and raw in (0, 1):  # saved as int(checked) in this process
            return bool(raw)
        text = _text(raw, 10).strip().lower()
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise _Unusable("expected true or false")
    if kind in ("str", "json"):
        text = _text(raw, max_len or MAX_TEXT)
        if kind == "json":
            return json.loads(text)  # ValueError / RecursionError: handled by read()
        if choices is not None and text not in set(choices):
            raise _Unusable(f"expected one of {', '.join(map(str, choices))}")
        return text
    raise ValueError(f"unknown setting kind {kind!r}")  # a programming error: say so


def _number(raw: Any, kind: str) -> int | float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise _Unusable(f"expected a number, found {type(raw).__name__}")
    if isinstance(raw, str):
        raw = _text(raw, 64)
    try:
        value = float(raw)  # "1e12" and "3.0" are numbers too
    except (ValueError, OverflowError):
        raise _Unusable("expected a number") from None
    if not math.isfinite(value):
        raise _Unusable("not a finite number")
    if kind == "int":
        if not value.is_integer():
            raise _Unusable("expected a whole number")
        return int(value)
    return value


def _text(raw: Any, max_len: int) -> str:
    if not isinstance(raw, str):
        raise _Unusable(f"expected text, found {type(raw).__name__}")
    if len(raw) > max_len:
        raise _Unusable(f"{len(raw):,} characters is more than {max_len:,}")
    return raw


def _short(value: Any) -> str:
    if isinstance(value, QByteArray):
        return f"<{value.size():,} bytes>"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:37] + "…"


def note(settings: QSettings, text: str) -> None:
    """Keep ``text`` for :func:`take_notes` (for a fallback :func:`read` cannot see)."""
    _notes.setdefault(settings, []).append(text)


_note = note
