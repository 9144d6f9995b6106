"""Stable paging of Axiom answers by `_time`: nanosecond time keys, window bounds, and the collector that
keeps each row of a fetch once.

Axiom's documented stable pagination: `| sort by _time asc | limit N`, then the next page starts at the
last `_time` seen, as the raw string and inclusive, so rows sharing that timestamp come back again and are
dropped by `_rowId` (or a content hash). A page is only taken as the last one when it is short, not
partial, and Axiom did not say it applied its default limit instead of ours (apl_client.py pages).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from diplo_pipeline.lib.axiom.export_files import _canonical, event_id, parse_time

_DEFAULT_LIMIT = re.compile(r"default limit(?: of)? (\d+)", re.IGNORECASE)
AXIOM_DOCUMENTED_DEFAULT_LIMIT = 1000  # what Axiom returns when no limit applies (source-formats.md §C.1)

# --- times --------------------------------------------------------------------------------------------

_FRACTION = re.compile(r":\d{2}\.(\d+)")


def time_key(raw: str) -> tuple[datetime, int]:
    """Sort key of a raw RFC3339Nano string to the nanosecond (`parse_time` alone stops at microseconds)."""
    parsed = parse_time(raw)
    match = _FRACTION.search(raw)
    sub_micro = int((match[1] if match else "")[6:9].ljust(3, "0"))
    return parsed, sub_micro


def later_time(a: str | None, b: str | None) -> str | None:
    """The later of two raw `_time` strings (either may be None), returned exactly as given."""
    if a is None or b is None:
        return a if b is None else b
    return b if time_key(b) > time_key(a) else a


def format_time(moment: datetime) -> str:
    """A window bound for Axiom: RFC3339 in UTC with `Z`, microseconds only when there are some."""
    if moment.tzinfo is None:
        raise ValueError("window bounds must be timezone-aware datetimes")
    moment = moment.astimezone(UTC)
    fraction = f".{moment.microsecond:06d}" if moment.microsecond else ""
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


def window_bound(value: str | datetime) -> str:
    """A bound as Axiom gets it: a datetime formatted, a string sent exactly as given once it parses."""
    if isinstance(value, datetime):
        return format_time(value)
    parse_time(value)  # relative times ("now-1d") are valid for Axiom but cannot be paged by _time
    return value


def midpoint(start: str, end: str) -> str | None:
    """A bound strictly inside (start, end), or None when the window is too narrow to split."""
    lo, hi = parse_time(start), parse_time(end)
    if hi - lo < timedelta(microseconds=4):
        return None
    half = (hi - lo) / 2
    return format_time(lo + timedelta(microseconds=max(2, half // timedelta(microseconds=1))))


def max_time(rows: list[dict[str, Any]]) -> str | None:
    """The latest readable `_time` of a page (rows that are not events, or have a bad time, are passed over)."""
    latest = None
    for row in rows:
        if not isinstance(row, dict):
            continue
        try:
            latest = later_time(latest, row.get("_time"))
        except (ValueError, TypeError):
            continue
    return latest


# --- pages and results --------------------------------------------------------------------------------


@dataclass
class FetchResult:
    """Every distinct row of a window, and whether Axiom's answer for the whole window can be trusted.

    `watermark` is the latest `_time` seen, as the raw string Axiom sent (nanoseconds and all), so the
    next fetch can start exactly there. When `complete` is false, `incomplete_from` is the start of the
    earliest sub-window Axiom kept answering partially for: rows before it are complete, rows after it
    may be missing, so a resumed fetch must start there rather than at the watermark.
    """

    rows: list[Any] = field(default_factory=list)  # row dicts; a malformed part of an answer is a ValueError
    complete: bool = True
    watermark: str | None = None
    requests: int = 0
    pages: int = 0
    duplicates_dropped: int = 0
    messages: list[str] = field(default_factory=list)
    incomplete_from: str | None = None


@dataclass
class Page:
    rows: list[dict[str, Any]]
    partial: bool
    messages: list[str]
    default_limit: int | None  # set when Axiom says it applied its default limit rather than ours


def default_limit_applied(messages: list[str]) -> int | None:
    """The default limit Axiom says it applied instead of ours (its documented 1,000 when it names none)."""
    for message in messages:
        if "default limit" in message.lower():
            match = _DEFAULT_LIMIT.search(message)
            return int(match[1]) if match else AXIOM_DOCUMENTED_DEFAULT_LIMIT
    return None


def _row_key(row: dict[str, Any]) -> tuple[str, str]:
    """Axiom's `_rowId` where the answer has it (legacy, cursors); else the hash the warehouse dedups by."""
    row_id = row.get("_rowId")
    if isinstance(row_id, str) and row_id:
        return "rowId", row_id
    try:
        return "hash", event_id(_canonical(row))
    except (UnicodeEncodeError, RecursionError):  # not storable (staging quarantines it): still deduplicated
        return "repr", repr(row)


class Collector:
    """Accumulates pages of one fetch, dropping rows a previous page already delivered."""

    def __init__(self) -> None:
        self.result = FetchResult()
        self._seen: set[tuple[str, str]] = set()

    def add(self, page: Page) -> None:
        self.result.pages += 1
        for message in page.messages:
            self.note(message)
        for row in page.rows:
            if not isinstance(row, dict):  # a malformed part of the answer: staging quarantines it
                self.result.rows.append(row)
                continue
            key = _row_key(row)
            if key in self._seen:
                self.result.duplicates_dropped += 1
                continue
            self._seen.add(key)
            self.result.rows.append(row)
            raw = row.get("_time")
            try:
                self.result.watermark = later_time(self.result.watermark, raw)
            except (ValueError, TypeError):
                pass  # a row with a bad _time is quarantined at staging; it cannot move the watermark

    def note(self, message: str) -> None:
        if message not in self.result.messages:
            self.result.messages.append(message)

    def incomplete(self, start: str, message: str) -> None:
        self.result.complete = False
        self.note(message)
        current = self.result.incomplete_from
        if current is None or time_key(start) < time_key(current):
            self.result.incomplete_from = start
