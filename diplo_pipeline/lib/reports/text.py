"""How values read on a page: numbers to four significant digits, times in UTC, gaps with their band."""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

from diplo_pipeline.lib.analytics.verdicts import gap_with_band

MISSING = "—"


def fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return fmt_time(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isinf(value):
            return "∞" if value > 0 else "−∞"
        return f"{value:,.0f}" if abs(value) >= 10_000 else f"{value:.4g}"
    if isinstance(value, list | tuple):
        return ", ".join(fmt(v) for v in value) or MISSING
    return str(value)


def fmt_share(share: float) -> str:
    """A share as the pages write a limit: `95 %`, `1 %`, `2.5 %`."""
    return f"{share * 100:g} %"


def fmt_time(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else MISSING


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return MISSING
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours} h {rest // 60:02d} min" if hours else f"{rest // 60} min"


def fmt_gap(gap: float | None, low: float | None, high: float | None) -> str:
    """An Elo gap with its 95 % band, e.g. `+57 [−203, +316]` (lib/analytics/verdicts.py: every page and the
    CLI write it the same way)."""
    return gap_with_band(gap, low, high) or MISSING


def fmt_steps(start: int | None, end: int | None) -> str:
    if start is None:
        return MISSING
    return str(start) if end in (None, start) else f"{start}–{end}"
