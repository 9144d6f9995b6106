"""The typed projection of Axiom events (dbt_like_sql/staging/_axiom_typed_projection.sql) against
lib/axiom/schema.py: the same fields with the same types, and each planted value in its own column."""

import json

import pyarrow as pa

from diplo_pipeline.lib.axiom.export_files import LEAN_SCHEMA, typed_projection
from diplo_pipeline.lib.axiom.schema import EVENTS_SCHEMA, JSON_FIELDS, KNOWN_FIELDS, SOURCE_NAMES
from diplo_pipeline.lib.lake.duck import duckdb_session, records

DUCKDB_TYPES = {pa.string(): "VARCHAR", pa.int64(): "BIGINT", pa.float64(): "DOUBLE"}


def project(con, payloads: list[dict]):
    """The projection's relation over lean rows holding `payloads` (event_time is the epoch)."""
    lean = pa.table({
        "event_id": [f"id-{i}" for i in range(len(payloads))],
        "event_time": pa.array([0] * len(payloads), pa.timestamp("us", tz="UTC")),
        "time_raw": [p["_time"] for p in payloads],
        "payload": [json.dumps(p) for p in payloads],
        "source_file": ["planted.ndjson"] * len(payloads),
        "source_line": list(range(1, len(payloads) + 1)),
    }, schema=LEAN_SCHEMA)
    con.register("lean", lean)
    return con.sql(typed_projection())


def test_the_projection_has_every_known_field_with_its_type_and_nothing_else():
    with duckdb_session() as con:
        relation = project(con, [])
        types = dict(zip(relation.columns, (str(t) for t in relation.types), strict=True))
    assert relation.columns == EVENTS_SCHEMA.names  # the raw_axiom__events contract, in order
    typed = {name: kind for name, kind in types.items() if name in KNOWN_FIELDS}
    assert typed == {name: DUCKDB_TYPES[kind] for name, kind in KNOWN_FIELDS.items()}


def planted_value(index: int, name: str, kind: pa.DataType):
    if name in JSON_FIELDS:
        return [name, {"i": index}]
    if kind == pa.int64():
        return 1000 + index
    if kind == pa.float64():
        return index + 0.25
    return f"text-{name}"


def test_each_planted_field_lands_in_its_column_and_a_wrong_type_is_null_with_the_payload_intact():
    planted = {SOURCE_NAMES.get(name, name): planted_value(i, name, kind)
               for i, (name, kind) in enumerate(KNOWN_FIELDS.items())}
    event = {"_time": "2025-12-22T10:00:00Z", "event": "everything", "service": "svc", **planted}
    wrong = {"_time": "2025-12-22T10:00:01Z", "event": "wrong", "batch_size": "eight", "queries": {"n": 1}}
    with duckdb_session() as con:
        full, bad = records(project(con, [event, wrong]))
    for i, (name, kind) in enumerate(KNOWN_FIELDS.items()):
        value = planted_value(i, name, kind)
        got = json.loads(full[name]) if name in JSON_FIELDS else full[name]
        assert got == value, name
    assert full["sweep_run_id"] == planted["run_id"] and "run_id" not in full  # the sweep letter, renamed
    assert (bad["batch_size"], bad["queries"]) == (None, None)
    assert json.loads(bad["payload"]) == wrong  # what the source said stays whole
    assert (full["day"], full["event"], full["service"]) == ("1970-01-01", "everything", "svc")


def test_the_run_an_event_names_comes_from_its_name_context_or_adapter_path():
    events = [
        {"_time": "2025-12-22T10:00:00Z", "event": "sweep_run_started", "run_name": "sweep-A-1",
         "context": "train:other"},
        {"_time": "2025-12-22T10:00:00Z", "event": "gpu_stats", "context": "train_grpo:grpo-20251222-191408"},
        {"_time": "2025-12-22T10:00:00Z", "event": "eval", "challenger_path": "/vol/grpo-7/adapter_v150"},
        {"_time": "2025-12-22T10:00:00Z", "event": "eval", "checkpoint_path": "runs/grpo-8/adapter_v10/x"},
        {"_time": "2025-12-22T10:00:00Z", "event": "gpu_stats", "run_name": "", "context": "no-run"},
    ]
    with duckdb_session() as con:
        names = [row["run_name"] for row in records(project(con, events))]
    assert names == ["sweep-A-1", "grpo-20251222-191408", "grpo-7", "grpo-8", None]
