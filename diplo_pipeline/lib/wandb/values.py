"""Values in WandB records and rows: JSON text → Python values the lake can hold, and nothing it cannot.

WandB writes every value as JSON text (`value_json`) or, from newer writers, a typed oneof. A damaged or
hand-made record can carry text that is not one JSON value, JSON nested deeper than anything WandB writes,
strings with lone UTF-16 surrogates (valid JSON escapes, but not text Parquet can store), or numbers no
column can hold. Such a value is set aside with its reason — the rest of its record is kept — instead of
crashing the build later in Arrow or Parquet (or in a RecursionError).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, NamedTuple

# Key path length and JSON nesting. WandB's own media values are 3 or 4 levels deep; the bound keeps every
# later step that walks a value (flattening, json.dumps into the lake) far from Python's recursion limit.
MAX_DEPTH = 100
INT64 = 2**63
# Epoch seconds a timestamp column can hold and Python can show (years 1 to 9999, UTC).
MIN_EPOCH = datetime(1, 1, 1, tzinfo=UTC).timestamp()
MAX_EPOCH = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()
_scan = json.JSONDecoder().scan_once  # one JSON value from a position: the C scanner, as json.loads uses


class BadValue(NamedTuple):
    path: list[str]
    text: str
    why: str

    def describe(self, where: str) -> str:
        name = ".".join(self.path) if self.path else "(no key)"
        return f"the value of {name!r} in {where} {self.why}; it was left out and the rest kept"


def _lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _check_tree(value: Any) -> str | None:
    """Why a decoded list or dict cannot be stored, or None. Iterative: no recursion on deep input."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return f"is nested deeper than {MAX_DEPTH} levels"
        if isinstance(node, dict):
            for key, child in node.items():
                if _lone_surrogate(key):
                    return "has a key that is not valid Unicode text (a lone UTF-16 surrogate)"
                stack.append((child, depth + 1))
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node)
        elif isinstance(node, str) and _lone_surrogate(node):
            return "holds text that is not valid Unicode (a lone UTF-16 surrogate)"
    return None


def decode_json(text: str) -> Any:
    """One JSON value (NaN and ±Infinity allowed, as WandB writes them). Raises ValueError saying why not."""
    try:
        value, end = _scan(text, 0)
        if end != len(text):
            raise StopIteration(end)
    except (StopIteration, ValueError):  # not exactly one value: let json.loads (whitespace allowed) decide
        try:
            value = json.loads(text)
        except RecursionError:
            raise ValueError(f"is nested deeper than {MAX_DEPTH} levels") from None
        except ValueError as exc:  # JSONDecodeError, or an integer of more than 4300 digits
            raise ValueError(f"is not one JSON value ({exc})") from None
    except RecursionError:
        raise ValueError(f"is nested deeper than {MAX_DEPTH} levels") from None
    if isinstance(value, dict | list):
        problem = _check_tree(value)
    elif isinstance(value, str) and "\\u" in text and _lone_surrogate(value):  # only an escape can make one
        problem = "holds text that is not valid Unicode (a lone UTF-16 surrogate)"
    else:
        problem = None
    if problem:
        raise ValueError(problem)
    return value


def typed_value_json(item: Any) -> str:
    """The JSON text of an item: `value_json`, or the typed oneof newer writers may fill instead."""
    if item.value_json:
        return item.value_json
    if "value" not in item.DESCRIPTOR.oneofs_by_name:  # ConfigItem has no typed oneof: empty means null
        return "null"
    which = item.WhichOneof("value")
    if which is None or which == "none":
        return "null"
    if which == "json":
        return item.json
    return json.dumps(getattr(item, which))


def item_path(item: Any) -> list[str]:
    key = item.key
    return [key] if key else list(item.nested_key)


def _flatten(tree: dict, prefix: str | None, out: dict) -> None:
    """Join nested dict keys with '.', keeping media dicts (those with `_type`) whole."""
    for key, value in tree.items():
        name = key if prefix is None else f"{prefix}.{key}"  # an empty key is a name too: ["", "a"] is ".a"
        if isinstance(value, dict) and "_type" not in value:
            _flatten(value, name, out)
        else:
            out[name] = value


def values_to_dict(pairs: Iterable[tuple[list[str], str]], bad: list[BadValue] | None = None) -> dict[str, Any]:
    """(key path, JSON text) pairs → a flat {key: value} row; values that cannot be stored go to `bad`."""
    row: dict[str, Any] = {}
    tree: dict[str, Any] = {}
    for path, text in pairs:
        # The common case inline (one plain value, a short path): decoding dominates the read time, and
        # one json.loads for the whole row cannot tell which item a stray comma or bracket belongs to.
        try:
            value, end = _scan(text, 0)
        except (StopIteration, ValueError, RecursionError):
            end = -1
        if (end != len(text) or not 0 < len(path) <= MAX_DEPTH or type(value) is dict or type(value) is list
                or (type(value) is str and "\\u" in text)):
            try:
                if not path or len(path) > MAX_DEPTH:
                    raise ValueError("has no key" if not path else f"has a key path longer than {MAX_DEPTH} parts")
                value = decode_json(text)
            except ValueError as exc:
                if bad is not None:
                    bad.append(BadValue(list(path), text, str(exc)))
                continue
        if len(path) == 1:
            row[path[0]] = value
            continue
        node = tree
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):  # a value where another item put a branch: keep both
                node = None
                break
            node = child
        if node is None or isinstance(node.get(path[-1]), dict):
            row[".".join(path)] = value
        else:
            node[path[-1]] = value
    if tree:
        _flatten(tree, None, row)
    nested = [k for k, v in row.items() if isinstance(v, dict) and "_type" not in v]
    for key in nested:  # the legacy writer stores a nested dict as one JSON value under its top key
        _flatten({key: row.pop(key)}, None, row)
    return row


def items_to_dict(items: Any, bad: list[BadValue] | None = None) -> dict[str, Any]:
    """Decode a repeated HistoryItem/SummaryItem/ConfigItem into a flat {key: value} dict."""
    return values_to_dict(((item_path(it), typed_value_json(it)) for it in items), bad)


def finite_number(value: Any) -> float | None:
    """The value as a finite float, or None (not a number, a boolean, NaN, ±inf, or beyond float range)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def as_int64(value: Any) -> int | None:
    """The value as an integer a BIGINT column can hold, or None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if -INT64 <= value < INT64 else None
    number = finite_number(value)
    return int(number) if number is not None and -INT64 <= number < INT64 else None


def epoch_seconds(value: Any) -> float | None:
    """The value as epoch seconds a timestamp column can hold, or None."""
    number = finite_number(value)
    return number if number is not None and MIN_EPOCH <= number <= MAX_EPOCH else None


def to_datetime(epoch: float | None) -> datetime | None:
    seconds = epoch_seconds(epoch)
    return None if seconds is None else datetime.fromtimestamp(seconds, tz=UTC)
