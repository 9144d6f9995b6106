"""Fuzzing the Axiom readers: input nobody planted never crashes ingestion, and nothing goes missing.

(a) Property tests (hypothesis) over generated events and generated garbage (any text, lone surrogates,
    bytes that are not UTF-8, huge and tiny numbers, deep nesting, odd `_time` strings) in every format.
(b) Byte-level mutation of small real exports, one per format, built from the demo's own events: every
    mutant must parse, type and stage without an exception, and every event of the seed must be kept,
    or quarantined with a reason, or have been destroyed by the mutation itself.
(c) Replay of every failing input `make fuzz` ever saved (tests/fuzz/regressions/axiom/), and of the
    seeds, so the replay test is never empty.

Invariants of every parse (`check_parse`): typing never fails and gives every kept row an id, a time and
a day; kept rows are valid events with locators unique in the file; every quarantine entry has a reason
and can be written. Staging then holds exactly the kept events (`check_staging`).
"""

from __future__ import annotations

import gzip
import json
import random
import re
import shutil
import zlib
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diplo_pipeline.lib.axiom import day_partitions
from diplo_pipeline.lib.axiom.export_files import ParsedExport, parse_export, typed_events
from diplo_pipeline.lib.axiom.schema import SOURCE_KINDS
from diplo_pipeline.lib.lake.quarantine import MAX_RAW_CHARS
from tests.fuzz.mutations import fuzz_seconds, mutants, regression_inputs, save_regression
from tests.helpers.axiom_exports import WRITERS
from tests.helpers.axiom_kill import ingest, paths_for

SEED_FORMATS = ["ndjson", "array", "pretty_array", "csv", "ndjson_gz", "csv_gz", "api_tabular", "api_legacy"]
STAGE_EVERY = 4 if fuzz_seconds() else 20  # mutants also staged and rebuilt into days (all are parsed and typed)
EXAMPLES = settings().max_examples  # the profile's: bounded in `make test`, large in `make fuzz`


# --- the invariants ----------------------------------------------------------------------------------


def check_parse(path: Path, typed: bool = True) -> ParsedExport:
    parsed = parse_export(path)
    if typed:
        check_typed(parsed.lean())
    assert len(set(parsed.lines)) == len(parsed.lines), "two kept records share a locator"
    bad_at = {q.line for q in parsed.quarantined if q.line is not None}
    assert not bad_at & set(parsed.lines), "a locator is both kept and quarantined"
    for payload in parsed.payloads:
        event = json.loads(payload)
        assert isinstance(event, dict) and "_time" in event and isinstance(event["event"], str) and event["event"]
    for item in parsed.quarantined:
        assert item.reason and item.file == str(path) and (item.line is None or item.line >= 1)
        assert "This is a bug" not in item.reason
        json.dumps(asdict(item), ensure_ascii=False).encode("utf-8")  # the quarantine file can hold it
    return parsed


def check_typed(lean: pa.Table) -> None:
    """The DuckDB typing pass accepts whatever parsing kept, and gives every row an id, a time and a day."""
    table = typed_events(lean)
    assert table.num_rows == lean.num_rows
    for column in ("event_id", "event_time", "day", "event", "payload"):
        assert table[column].null_count == 0, column


def check_staging(path: Path, work: Path, parsed: ParsedExport) -> None:
    """Staging and the day rebuild hold exactly the kept events, once each; the quarantine holds the rest."""
    inbox = work / "inbox"
    inbox.mkdir(parents=True)
    shutil.copy(path, inbox / path.name)
    paths = paths_for(inbox, work / "data")
    ingest(paths)
    days = list(day_partitions.events_dir(paths).glob("*.parquet"))
    stored = duckdb.sql(f"select event_id from read_parquet({[str(d) for d in days]})").fetchall() if days else []
    assert sorted(e for (e,) in stored) == sorted(set(parsed.event_ids))
    quarantined = (paths.quarantine / "axiom").glob("*.ndjson")
    written = [line for q in quarantined for line in q.read_text().split("\n") if line]
    assert len(written) == len(parsed.quarantined)
    assert not any("This is a bug" in json.loads(line)["reason"] for line in written)


def check_accounting(parsed: ParsedExport, markers: list[str], content: bytes | None) -> None:
    """Each seed event is kept, or quarantined (its marker in a quarantined excerpt), or the mutation
    destroyed it (its marker is no longer in the input). An entry about the whole file (a corrupt gzip,
    a broken table) or an excerpt cut at the quarantine's size limit may account for the rest.
    `content` is the input as text bytes (None: a gzip stream the gzip module cannot read either)."""
    whole_file = any(q.line is None for q in parsed.quarantined)
    if content is None:
        assert whole_file, "an unreadable gzip stream went unreported"
    if whole_file or any(len(q.raw or "") >= MAX_RAW_CHARS for q in parsed.quarantined):
        return
    kept = "\n".join(parsed.payloads)
    shown = "\n".join(q.raw or "" for q in parsed.quarantined)
    for marker in markers:
        if marker not in kept and marker not in shown:
            # Still in the input as the whole value it was (quoted in JSON, a whole cell in CSV)?
            intact = re.search(rb'(?:^|[",\s])' + marker.encode() + rb'(?:$|[",\s])', content, re.MULTILINE)
            assert intact is None, f"event {marker} was neither kept nor quarantined"


# --- (b) mutation of real exports --------------------------------------------------------------------


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> dict[str, tuple[Path, list[str]]]:
    """One small export per format: a few events of every kind the demo emits, each with a marker."""
    from diplo_pipeline.demo.axiom_events import build_axiom_events
    from diplo_pipeline.demo.axiom_export import export_line
    from diplo_pipeline.demo.generate import _rows
    from diplo_pipeline.demo.plan import DEFAULT_SEED, build_plan
    from diplo_pipeline.demo.timeline import build_timelines

    plan = build_plan(DEFAULT_SEED)
    timelines = build_timelines(plan)
    rows = {key: _rows(timeline, DEFAULT_SEED) for key, timeline in timelines.items()}
    per_kind: dict[str, list[dict]] = {}
    for event in build_axiom_events(plan, timelines, rows):
        row = json.loads(export_line(event))
        if len(per_kind.setdefault(row["event"], [])) < 3:
            per_kind[row["event"]].append(row)
    events = [{**row, "mark": f"M{i:04d}Z"} for i, row in enumerate(r for kind in per_kind.values() for r in kind)]
    folder = tmp_path_factory.mktemp("seeds")
    out = {}
    for fmt in SEED_FORMATS:
        suffix, render = WRITERS[fmt]
        path = folder / f"seed-{fmt}{suffix}"
        path.write_bytes(render(events))
        out[fmt] = (path, [e["mark"] for e in events])
    return out


def content_of(path: Path, data: bytes) -> bytes | None:
    if path.name.endswith(".gz"):
        try:
            return gzip.decompress(data)
        except (OSError, EOFError, zlib.error):
            return None
    return data


@pytest.mark.parametrize("fmt", SEED_FORMATS)
def test_mutated_exports_never_crash_and_lose_nothing(seeds, fmt, tmp_path):
    seed, markers = seeds[fmt]
    suffix = WRITERS[fmt][0]
    failures, kept = [], []

    def failed(number: int, how: str, data: bytes, exc: Exception) -> None:
        if not fuzz_seconds():
            raise AssertionError(f"mutant {number} ({how}) of the {fmt} seed failed") from exc
        failures.append(f"{how}: {type(exc).__name__}: {exc} -> saved as {save_regression('axiom', data, suffix)}")

    for number, (how, data) in enumerate(mutants(f"axiom-{fmt}", seed.read_bytes())):
        path = tmp_path / f"mutant{suffix}"
        path.write_bytes(data)
        try:
            parsed = check_parse(path, typed=False)
            check_accounting(parsed, markers, content_of(path, data))
            if number % STAGE_EVERY == 0:
                check_staging(path, tmp_path / f"stage-{number}", parsed)
        except Exception as exc:  # noqa: BLE001 - whatever a reader raises on a mutant is a finding
            failed(number, how, data, exc)
            continue
        kept.append((number, how, data, parsed.lean()))
    try:  # typing is one DuckDB pass: all mutants at once, and one by one only to name a failing one
        check_typed(pa.concat_tables([lean for *_, lean in kept]))
    except Exception:  # noqa: BLE001 - the one-by-one pass below names the culprit
        for number, how, data, lean in kept:
            try:
                check_typed(lean)
            except Exception as exc:  # noqa: BLE001 - a finding, as above
                failed(number, how, data, exc)
    assert not failures, "\n".join(failures)  # `make fuzz`: every failing input is now a regression test


# --- (c) replay -----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", [*(f"seed:{fmt}" for fmt in SEED_FORMATS), *map(str, regression_inputs("axiom"))])
def test_replay_seeds_and_saved_regressions(seeds, case, tmp_path):
    if case.startswith("seed:"):
        path, markers = seeds[case.removeprefix("seed:")]
        parsed = check_parse(path)
        assert len(parsed) == len(markers) and parsed.quarantined == []  # a clean seed: all kept
    else:  # a mutant of a seed that once failed: the seeds' events and markers still account for it
        path = Path(case)
        parsed = check_parse(path)
        check_accounting(parsed, seeds["ndjson"][1], content_of(path, path.read_bytes()))
    check_staging(path, tmp_path, parsed)


# --- (a) properties ---------------------------------------------------------------------------------

_KEYS = st.text(min_size=1, max_size=12).filter(lambda k: k not in SOURCE_KINDS and k != "seq")
_SCALARS = (st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
            | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20))
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=3),
                       max_leaves=8)


@st.composite
def rfc3339(draw) -> str:
    """Valid `_time` strings: any second of years 2..9998, any fraction length, Z or an offset."""
    moment = draw(st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31)))
    fraction = draw(st.sampled_from(["", "." + draw(st.text("0123456789", min_size=1, max_size=12))]))
    zone = draw(st.sampled_from(["Z", "+00:00", "-05:30", "+1400", "-23:59"]))
    return f"{moment.year:04d}" + moment.strftime("-%m-%dT%H:%M:%S") + fraction + zone


@st.composite
def events(draw, values=_VALUES) -> list[dict]:
    n = draw(st.integers(1, 8))
    out = []
    for seq in range(n):
        extra = draw(st.dictionaries(_KEYS, values, max_size=5))
        out.append({**extra, "_time": draw(rfc3339()), "event": draw(st.text(min_size=1, max_size=10)), "seq": seq})
    return out


def _ids_by_format(tmp: Path, batch: list[dict], formats: list[str]) -> dict[str, list[str]]:
    out = {}
    for fmt in formats:
        suffix, render = WRITERS[fmt]
        path = tmp / f"{fmt}{suffix}"
        path.write_bytes(render(batch))
        parsed = check_parse(path, typed=False)  # (typing is what the other properties check)
        assert parsed.quarantined == [], (fmt, parsed.quarantined[:1])
        out[fmt] = sorted(parsed.event_ids)
    return out


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(batch=events())
def test_generated_events_read_back_alike_in_every_json_format(tmp_path_factory, batch):
    ids = _ids_by_format(tmp_path_factory.mktemp("p"), batch,
                         ["ndjson", "array", "pretty_array", "ndjson_gz", "api_tabular", "api_legacy"])
    assert len(ids["ndjson"]) == len(batch)
    assert all(found == ids["ndjson"] for found in ids.values()), ids


# CSV cannot tell the text "12" from the number 12 in a field it does not know; these values avoid that.
_CSV_VALUES = (st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False)
               | st.text(max_size=20).map(lambda s: "s" + s) | st.lists(st.integers(), max_size=3))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(batch=events(values=_CSV_VALUES))
def test_generated_events_read_back_alike_from_csv(tmp_path_factory, batch):
    ids = _ids_by_format(tmp_path_factory.mktemp("p"), batch, ["ndjson", "csv", "csv_gz"])
    assert ids["csv"] == ids["ndjson"] == ids["csv_gz"]


_ODD_TIMES = st.one_of(
    st.text(max_size=40),
    st.from_regex(
        r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{0,30})?(Z|[+-][0-9]{2}:?[0-9]{2})?\Z"
    ),
    st.sampled_from(["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00", "0000-01-01T00:00:00Z",
                     "2025-02-29T00:00:00Z", "2025-12-22T24:00:00Z", "2025-12-22T10:00:60Z", " 2025-12-22T10:00:00Z",
                     "2025-12-22T10:00:00+24:00", "\u0662\u0660\u0662\u0665-12-22T10:00:00Z"]),
    st.integers() | st.floats() | st.none(),
)
_GARBAGE = st.one_of(
    st.text(st.characters(codec=None, exclude_characters="\n"), max_size=60).map(
        lambda s: s.encode("utf-8", "surrogatepass")),  # lone surrogates become bytes that are not UTF-8
    st.binary(max_size=60).map(lambda b: b.replace(b"\n", b" ")),
    st.integers(1, 3000).map(lambda n: b"[" * n),
    st.integers(1, 3000).map(
        lambda n: b'{"_time": "2025-12-22T10:00:00Z", "event": "x", "d": ' + b"[" * n + b"]" * n + b"}"
    ),
    st.sampled_from([b"9" * 400, b"1e999", b"-1e-999", b"NaN", b'"\\ud800"', b'{"_time": "2025-12-22T10:00:00Z"}',
                     b'{"event": "x"}', b"{", b"}", b"[]", b"null", b'{"_time": "2025-12-22T10:00:00Z", "event": ""}']),
    _ODD_TIMES.map(lambda t: json.dumps({"_time": t, "event": "x"}).encode()),
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(batch=events(), garbage=st.lists(st.tuples(st.integers(1, 10**6), _GARBAGE), min_size=1, max_size=8))
def test_garbage_lines_never_crash_and_every_line_is_kept_or_quarantined(tmp_path_factory, batch, garbage):
    lines = [json.dumps(event).encode() for event in batch]
    good_lines = set(range(1, len(batch) + 1))
    for position, junk in garbage:  # never before the first good line: that one decides the format
        at = 1 + position % len(lines)
        lines.insert(at, junk)
        good_lines = {n + 1 if n > at else n for n in good_lines}
    path = tmp_path_factory.mktemp("g") / "mixed.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")

    parsed = check_parse(path)

    counted = {n for n, line in enumerate(lines, 1) if line.strip(b" \t\r\n") not in (b"", b"[]")}
    assert set(parsed.lines) | {q.line for q in parsed.quarantined} == counted
    assert len(parsed.lines) + len(parsed.quarantined) == len(counted)
    assert good_lines <= set(parsed.lines)
    kept = zip(parsed.payloads, parsed.lines, strict=True)
    assert sorted(json.loads(p)["seq"] for p, n in kept if n in good_lines) == list(range(len(batch)))


# Damage that leaves the text after it tokenised as before: no quote to open a string that swallows it.
_ARRAY_DAMAGE = st.sampled_from(
    ["oops", '{"a":', "{{", "}", ":::", "[[[", "1e999", '{"_time": 1, "event": }', "\\", ","]
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(batch=events(), damage=st.lists(st.tuples(st.integers(0, 10**6), _ARRAY_DAMAGE), min_size=1, max_size=5),
       pretty=st.booleans())
def test_damaged_arrays_keep_every_good_element(tmp_path_factory, batch, damage, pretty):
    elements = [json.dumps(event) for event in batch]
    for position, junk in damage:
        elements.insert(position % (len(elements) + 1), junk)
    path = tmp_path_factory.mktemp("a") / "damaged.json"
    path.write_text("[" + (",\n " if pretty else ",").join(elements) + "]")

    parsed = check_parse(path)

    assert sorted(json.loads(p)["seq"] for p in parsed.payloads) == list(range(len(batch)))
    harmless = {"[[[", ","}  # extra brackets and commas between elements are read past, as JSON5 would
    assert parsed.quarantined or {junk for _, junk in damage} <= harmless, "the damage went unnoticed"


@settings(max_examples=max(10, EXAMPLES // 6), suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                       HealthCheck.too_slow])
@given(batch=events(), garbage=st.lists(_GARBAGE, min_size=1, max_size=4), fmt=st.sampled_from(SEED_FORMATS))
def test_staging_any_format_with_garbage_holds_exactly_the_kept_events(tmp_path_factory, batch, garbage, fmt):
    suffix, render = WRITERS[fmt]
    data = render(batch)
    rng = random.Random(len(data))
    for junk in garbage:  # bytes dropped anywhere, even into a compressed stream
        at = rng.randrange(len(data) + 1)
        data = data[:at] + junk + data[at:]
    work = tmp_path_factory.mktemp("s")
    path = work / f"export{suffix}"
    path.write_bytes(data)
    check_staging(path, work / "run", check_parse(path))
