"""Fuzzing the `.wandb` readers (issue 10, item 16): input nobody planted never crashes the build, and
every byte and every record of it is accounted for.

Seeds are files the real SDK wrote offline (a finished run, one with every edge case — NaN, media,
nested dicts — and a killed run whose records span blocks). Three kinds of input are made from them:
byte mutants (tests/fuzz/mutations.py), value mutants (records re-framed with intact CRCs but values,
keys and steps no writer would produce: a byte mutant never gets past the CRC to the values), and
hypothesis-made bytes, chunk streams and records.

The invariant, for every input (`check`):
1. `read_wandb_file`, `read_run` and (for some inputs) `ingest_run` raise nothing. A file without the
   header raises NotAWandbFile from the reader only, and `read_run` quarantines it as unreadable.
2. Bytes: every byte after the header is in a framed record, in block-trailer padding, or in a damaged
   region the reader reports (`ReadStats.accounted_bytes() == len(data)`); regions are in file order,
   disjoint and inside the file.
3. Records: every framed record was parsed (counted by type) or counted as unparseable, and every parsed
   history record is a row: `records == sum(kinds) + unparseable_records`, `len(history) == kinds["history"]`.
4. Reasons: every damaged region, undecodable record and undecodable value is a quarantine item naming
   its byte range, in order, except a truncated tail while the run is still running (the record being
   written); above 50 the last item says how many more.
5. Counts add up: `runs.corrupt_records` is the sum of the damage counters; `history_rows` the rows read;
   `metric_points` holds one row per logged (non-bookkeeping) value of those rows; every table is
   writable to Parquet and the resume state to JSON.

On a failure `make fuzz` saves the input under tests/fuzz/regressions/wandb/ (`make test` writes it to
the test's tmp dir and names it), and `test_replay` runs every saved input from then on.
"""

from __future__ import annotations

import io
import json
import math
import random
import struct
import time
from itertools import pairwise
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st
from wandb.proto import wandb_internal_pb2 as pb

from diplo_pipeline.demo.sdk import run_in_subprocess
from diplo_pipeline.lib.settings import DataPaths
from diplo_pipeline.lib.wandb import offline
from diplo_pipeline.lib.wandb.log_format import FRAMING_DAMAGE
from diplo_pipeline.lib.wandb.logged_tables import TABLE_FILE, media_refs
from diplo_pipeline.lib.wandb.records import (
    BLOCK_SIZE,
    FILE_HEADER,
    TRUNCATED,
    NotAWandbFile,
    ReadStats,
    iter_records,
    read_wandb_file,
)
from diplo_pipeline.lib.wandb.run_tables import MAX_QUARANTINED_PER_FILE, RunFiles, read_run
from diplo_pipeline.lib.wandb.values import values_to_dict
from tests.fuzz.mutations import fuzz_seconds, mutants, regression_inputs, save_regression
from tests.helpers import sdk_runs
from tests.helpers.wandb_log import frame

RUN_ID = "fuzz0001"
SEEDS = ("finished", "edge", "killed")
MUTATION_LOOPS = 2 * len(SEEDS)  # `make fuzz` shares its time between the byte and value loops per seed
INGEST_EVERY = 8  # also write every 8th mutant into a lake: "never crashes the build", not just the reader


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> dict[str, bytes]:
    root = tmp_path_factory.mktemp("seeds")
    run_in_subprocess(sdk_runs.simple_run, str(root / "finished"), "seed0001", "grpo-20251222-200000", 30)
    run_in_subprocess(sdk_runs.edge_case_run, str(root / "edge"), "seed0002")
    run_in_subprocess(sdk_runs.simple_run, str(root / "killed"), "seed0003", "grpo-20251222-210000", 150,
                      {"crash": True}, crash=True)
    return {name: next((root / name).rglob("offline-run-*/*.wandb")).read_bytes() for name in SEEDS}


@pytest.fixture
def fuzz_budget(monkeypatch):
    """`make fuzz` gives the whole file DIPLO_FUZZ_SECONDS: each mutation loop gets its share."""
    if fuzz_seconds():
        monkeypatch.setenv("DIPLO_FUZZ_SECONDS", str(fuzz_seconds() / MUTATION_LOOPS))


# -- the invariant ----------------------------------------------------------------------------------
def check(data: bytes, folder: Path, *, running: bool = False, ingest: bool = False) -> None:
    """Read `data` as a run's only file, through the reader, the run and (optionally) the lake."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"run-{RUN_ID}.wandb"
    path.write_bytes(data)
    now = time.time() + (0 if running else 86_400)
    run = RunFiles(RUN_ID, (path,))
    try:
        wf = read_wandb_file(path, data=data)
    except NotAWandbFile:
        assert data[: len(FILE_HEADER)] != FILE_HEADER
        tables = read_run(run, now=now)
        assert tables.runs["state"][0].as_py() == "unreadable"
        assert [q.reason.split(":")[0] for q in tables.quarantined] == ["unreadable .wandb file"]
        return
    stats = wf.stats
    # 2. bytes
    assert stats.accounted_bytes() == len(data), stats
    regions = [d for d in stats.damage if d.kind in FRAMING_DAMAGE or d.kind == TRUNCATED]
    assert all(len(FILE_HEADER) <= d.offset and d.length > 0 and d.end <= len(data) for d in regions), regions
    assert all(a.end <= b.offset for a, b in pairwise(regions)), regions
    # 3. records
    assert stats.records == sum(stats.kinds.values()) + stats.unparseable_records
    assert len(wf.history) == stats.kinds["history"]
    # 4. reasons
    tables = read_run(run, now=now)
    info = tables.runs.to_pylist()[0]
    expected = [d.reason() for d in stats.damage if not (info["state"] == "running" and d.kind == TRUNCATED)]
    expected += [reason for reason, _ in wf.summary_problems]
    reasons = [q.reason for q in tables.quarantined]
    # After the file's own reasons, one per W&B Table the history points at: the mutant is written without
    # its run's files/ folder, so every table's JSON is missing (a damaged pointer is no table at all).
    missing_tables = [f"the W&B Table {ref.key!r} logged at step {ref.step} is not at "
                      for ref in media_refs(tables.metric_points) if ref.media_type == TABLE_FILE]
    reasons, table_reasons = reasons[: len(reasons) - len(missing_tables)], reasons[len(reasons) - len(missing_tables):]
    assert all(r.startswith(m) for r, m in zip(table_reasons, missing_tables, strict=True)), table_reasons
    if len(expected) <= MAX_QUARANTINED_PER_FILE:
        assert reasons == expected
    else:
        assert reasons[:-1] == expected[: MAX_QUARANTINED_PER_FILE - 1]
        assert reasons[-1].startswith(f"and {len(expected) - MAX_QUARANTINED_PER_FILE + 1} more")
    assert all(r.startswith(f"bytes {d.offset}-{d.end} ") for r, d in zip(reasons, stats.damage, strict=False))
    # 5. counts
    assert info["corrupt_records"] == (stats.corrupt_records + stats.unparseable_records + stats.bad_value_records
                                       + len(wf.summary_problems))
    assert info["history_rows"] == len(wf.history)
    assert tables.metric_points.num_rows == sum(1 for row in wf.history for key in row if not key.startswith("_"))
    for name in ("runs", "config", "summary", "metric_points"):
        pq.write_table(getattr(tables, name), io.BytesIO())
    json.dumps(wf.fold_state())
    if ingest:
        paths = DataPaths.from_env(folder / "data")
        written = offline.ingest_run(paths, run, now=now)
        for name, folder_name in offline.RAW_WANDB_TABLES.items():
            stored = pq.read_table(paths.raw / "wandb" / folder_name / f"{RUN_ID}.parquet")
            assert stored.num_rows == getattr(written, name).num_rows
        lines = paths.quarantine / "wandb" / f"{RUN_ID}.ndjson"
        # NDJSON lines end in "\n" only (str.splitlines would also split inside a value at U+0085 or U+2028).
        stored = lines.read_text().split("\n") if lines.exists() else []
        stored_reasons = [json.loads(line)["reason"] for line in stored if line]
        assert stored_reasons == [q.reason for q in written.quarantined]


def checked(label: str, data: bytes, folder: Path, **kwargs) -> None:
    """`check`, keeping a failing input: in the regression corpus under `make fuzz`, else in tmp."""
    try:
        check(data, folder, **kwargs)
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        kept = save_regression("wandb", data, ".wandb") if fuzz_seconds() else folder / "failing-input.wandb"
        kept.write_bytes(data)
        raise AssertionError(f"{label}: {type(exc).__name__}: {exc} (input kept in {kept})") from exc


# -- value mutants: records re-framed with intact CRCs ----------------------------------------------
TOKENS = ['"\\ud800"', '{"\\udfff": 1}', "[" * 3000 + "]" * 3000, "9" * 400, "9" * 5000, "1e999", "-1e999",
          "NaN", "-Infinity", "{", "", "1, 2", '{"_type": "table-file", "path": 1}', "true", "null", '"x"',
          "1e300", "-9223372036854775809", "18446744073709551616", '{"a": {"b": [1, {"c": 2}]}}']
EXTREME_NUMBERS = ["1e300", "-1e300", "1e19", "-1e19", "9" * 30, "NaN", "Infinity", '"soon"', "-62135596801",
                   "253402300800", "0.5", "true"]


def _item_lists(record: pb.Record) -> list:
    kind = record.WhichOneof("record_type")
    return {
        "history": [record.history.item], "summary": [record.summary.update, record.summary.remove],
        "config": [record.config.update, record.config.remove], "run": [record.run.config.update],
    }.get(kind, [])


def _mutate_record(record: pb.Record, rng: random.Random) -> str:
    lists = [items for items in _item_lists(record) if len(items)]
    what = rng.choice(["value", "splice", "key", "bookkeeping", "start_time", "exit"])
    if what == "start_time" and record.WhichOneof("record_type") == "run":
        record.run.start_time.seconds = rng.choice([-(2**63), 2**63 - 1, 10**15, -(10**15)])
        return "start_time"
    if what == "exit":
        record.exit.exit_code = rng.choice([-(2**31), 2**31 - 1, 0, 137])
        record.exit.runtime = rng.choice([-(2**31), 2**31 - 1])
        return "exit"
    if not lists:
        return "none"
    item = rng.choice(rng.choice(lists))
    if what == "value":
        item.value_json = rng.choice(TOKENS)
    elif what == "splice":
        at = rng.randrange(len(item.value_json) + 1)
        item.value_json = item.value_json[:at] + rng.choice(TOKENS) + item.value_json[at:]
    elif what == "key":
        del item.nested_key[:]
        item.key = ""
        item.nested_key.extend(rng.choice([[], [""], ["x"] * 100, ["benchmark", "step", "deeper"],
                                           [str(i) for i in range(rng.randint(2, 150))], ["_step", "x"]]))
    else:  # a bookkeeping value no column can hold
        item.ClearField("nested_key")
        item.key = ""
        item.nested_key.append(rng.choice(["_step", "_timestamp", "_runtime", "benchmark/step", "step"]))
        item.value_json = rng.choice(EXTREME_NUMBERS)
    return what


def mutate_values(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    """One to three records of a healthy file changed in ways no writer would, then framed again."""
    payloads = [payload for _, payload in iter_records(data, ReadStats())]
    done = []
    for _ in range(rng.randint(1, 3)):
        index = rng.randrange(len(payloads))
        record = pb.Record()
        record.ParseFromString(payloads[index])
        done.append(f"{record.WhichOneof('record_type')}:{_mutate_record(record, rng)}")
        payloads[index] = record.SerializeToString()
    return "+".join(done), frame(payloads)


# -- mutation loops -----------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_byte_mutants(seeds, seed, tmp_path, fuzz_budget):
    for index, (label, data) in enumerate(mutants(f"wandb-bytes-{seed}", seeds[seed])):
        checked(f"{seed} mutant {index} ({label})", data, tmp_path / str(index % 4), running=index % 2 == 1,
                ingest=index % INGEST_EVERY == 0)


@pytest.mark.parametrize("seed", SEEDS)
def test_value_mutants(seeds, seed, tmp_path, fuzz_budget):
    for index, (label, data) in enumerate(mutants(f"wandb-values-{seed}", seeds[seed], mutator=mutate_values)):
        checked(f"{seed} value mutant {index} ({label})", data, tmp_path / str(index % 4),
                ingest=index % INGEST_EVERY == 0)


def test_value_mutants_do_reach_the_values(seeds):
    """The value mutants are framed intact: they get past the CRC, and some values are set aside."""
    bad, rng = 0, random.Random("reach the values")
    for _ in range(40):
        stats = read_wandb_file("x.wandb", data=mutate_values(seeds["edge"], rng)[1]).stats
        assert stats.corrupt_records == 0
        bad += stats.bad_value_records
    assert bad > 0


def replay_inputs() -> list:
    return [pytest.param(("seed", name), id=f"seed-{name}") for name in SEEDS] + [
        pytest.param(("file", path), id=path.name) for path in regression_inputs("wandb")]


@pytest.mark.parametrize("source", replay_inputs())
def test_replay(seeds, source, tmp_path):
    """Every input a fuzz run ever failed on (tests/fuzz/regressions/wandb/), and the seeds themselves."""
    kind, name = source
    data = seeds[name] if kind == "seed" else Path(name).read_bytes()
    for running in (False, True):
        check(data, tmp_path / str(running), running=running, ingest=True)
    if kind == "seed":  # a healthy file: nothing damaged (the killed run may end inside its last record)
        stats = read_wandb_file("seed.wandb", data=data).stats
        assert [d.kind for d in stats.damage] == ([] if stats.tail == "clean" else [TRUNCATED])
        assert stats.tail in (("clean", TRUNCATED) if name == "killed" else ("clean",))


# -- hypothesis: the framing --------------------------------------------------------------------------
@given(st.binary(max_size=3 * BLOCK_SIZE))
def test_any_bytes_after_a_valid_header(tmp_path_factory, tail):
    check(FILE_HEADER + tail, tmp_path_factory.mktemp("bytes"))


payloads = st.one_of(
    st.binary(max_size=300),
    st.builds(lambda n, byte: bytes([byte]) * n, st.integers(0, 40_000), st.integers(0, 255)),  # spans blocks
)


@given(st.lists(payloads, max_size=12), st.data())
def test_intact_records_survive_damage_around_them(records, data):
    """Damage in place (bit flips, zeroed or overwritten spans): every record whose bytes it did not
    touch is read, at its offset, and nothing else is (so nothing made up)."""
    original = frame(records)
    spans, stats = [], ReadStats()
    for offset, payload in iter_records(original, stats):
        spans.append((offset, stats.end_offset, payload))
    damaged = bytearray(original)
    for _ in range(data.draw(st.integers(0, 4), label="hits")):
        if len(damaged) <= len(FILE_HEADER):
            break
        start = data.draw(st.integers(len(FILE_HEADER), len(damaged) - 1), label="start")
        size = data.draw(st.integers(1, 5000), label="size")
        how = data.draw(st.sampled_from(["flip", "zeros", "bytes"]), label="how")
        end = min(len(damaged), start + size)
        if how == "flip":
            damaged[start] ^= 1 << data.draw(st.integers(0, 7), label="bit")
        elif how == "zeros":
            damaged[start:end] = bytes(end - start)
        else:
            damaged[start:end] = data.draw(st.binary(min_size=end - start, max_size=end - start), label="bytes")
    changed = [i for i in range(len(original)) if original[i] != damaged[i]]
    read_stats = ReadStats()
    read = [(offset, payload) for offset, payload in iter_records(bytes(damaged), read_stats)]
    untouched = [(o, p) for o, e, p in spans if not any(o <= i < e for i in changed)]
    assert set(untouched) <= set(read)
    assert set(read) <= {(o, p) for o, _, p in spans}
    assert read_stats.accounted_bytes() == len(damaged)


@given(st.lists(payloads, min_size=1, max_size=8), st.data())
def test_shifted_streams_are_still_accounted(records, data):
    """Inserted or deleted bytes shift every chunk after them off its block: still nothing crashes."""
    stream = bytearray(frame(records))
    at = data.draw(st.integers(len(FILE_HEADER), len(stream)), label="at")
    if data.draw(st.booleans(), label="insert"):
        stream[at:at] = data.draw(st.binary(min_size=1, max_size=64), label="inserted")
    else:
        del stream[at : at + data.draw(st.integers(1, 64), label="deleted")]
    stats = ReadStats()
    for _ in iter_records(bytes(stream), stats):
        pass
    assert stats.accounted_bytes() == len(stream)


# -- hypothesis: values and whole records ------------------------------------------------------------
any_text = st.text(st.characters(exclude_categories=()), max_size=12)  # lone surrogates included
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=12,
)
value_texts = st.one_of(
    json_values.map(json.dumps),
    st.text(max_size=20),  # mostly not JSON
    st.sampled_from(TOKENS + EXTREME_NUMBERS),
    st.integers(1, 3000).map(lambda n: "[" * n + "]" * n),
)
key_paths = st.lists(st.sampled_from(["a", "b", "_step", "_timestamp", "benchmark/step", "", "x.y"]), max_size=3)


def _same(a, b) -> bool:
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))


@given(st.lists(st.tuples(key_paths, value_texts), max_size=10))
def test_values_are_kept_or_set_aside_never_raised(pairs):
    bad = []
    row = values_to_dict(pairs, bad)
    # A lone key with a plain value is in the row exactly as written (unless another item names it too).
    names = [".".join(path) for path, _ in pairs]
    for (path, text), name in zip(pairs, names, strict=True):
        if len(path) != 1 or names.count(name) > 1 or any(n.startswith(name + ".") for n in names):
            continue
        if any(b.path == path for b in bad):
            continue
        value = json.loads(text)
        if not isinstance(value, dict):
            assert _same(row[name], value), (name, text, row)
    assert len(bad) <= len(pairs)
    json.dumps(row, default=str)  # what read_run stores as the config/summary JSON


run_fields = st.fixed_dictionaries({
    "seconds": st.integers(-(2**63), 2**63 - 1), "nanos": st.integers(-(2**31), 2**31 - 1),
    "config": st.lists(st.tuples(key_paths, value_texts), max_size=4),
})
rows = st.lists(st.lists(st.tuples(key_paths, value_texts), max_size=6), max_size=5)
exits = st.none() | st.tuples(st.integers(-(2**31), 2**31 - 1), st.integers(-(2**31), 2**31 - 1))


def _items(container, pairs) -> None:
    for path, text in pairs:
        item = container.add()
        item.nested_key.extend(path)
        item.value_json = text


@given(run_fields, rows, rows, exits, st.booleans())
def test_records_no_writer_would_write(tmp_path_factory, run, history, summary, exit_, running):
    """Intact framing around records full of values, keys, steps and times no column can hold."""
    records = []
    record = pb.Record()
    record.run.run_id = RUN_ID
    record.run.start_time.seconds, record.run.start_time.nanos = run["seconds"], run["nanos"]
    _items(record.run.config.update, run["config"])
    records.append(record.SerializeToString())
    for kind, batches in (("history", history), ("summary", summary)):
        for pairs in batches:
            record = pb.Record()
            _items(record.history.item if kind == "history" else record.summary.update, pairs)
            records.append(record.SerializeToString())
    if exit_ is not None:
        record = pb.Record()
        record.exit.exit_code, record.exit.runtime = exit_
        records.append(record.SerializeToString())
    check(frame(records), tmp_path_factory.mktemp("records"), running=running, ingest=True)


def test_the_framing_helpers_agree_with_the_sdk_format():
    """The hypothesis streams above are framed by tests/wandb_log.py: the reader must read them whole."""
    payloads = [b"", b"x" * 70_000, struct.pack("<d", 1.5)]
    stats = ReadStats()
    assert [p for _, p in iter_records(frame(payloads), stats)] == payloads
    assert stats.damage == [] and stats.accounted_bytes() == len(frame(payloads))
