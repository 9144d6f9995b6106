"""The items of many history or summary records at once, when they are what WandB writes for plain keys.

Reading a HistoryItem's fields one by one through the protobuf runtime costs more than parsing the record
(each field is a Python object made on access), so the hot path takes a record's items as bytes
(`RecordView`, a message type declared here with `repeated bytes item`) and reads the items of all the
records of a file with a few numpy operations over their bytes joined (`PlainBatch`).

An item is *plain* when its bytes are exactly `0x12 len key 0x82 0x01 len value`: one `nested_key` part and
one non-empty `value_json`, each with a one-byte length, and nothing else (no `key`, typed value, unknown
field or longer string). That is what wandb-core writes for a metric logged under a plain name, and every
byte of it is checked, so the key and the JSON text read from those positions are the ones the SDK's
parse holds. A record all of whose items are plain is read from the batch; any other record item by item
as before (`values.items_to_dict`), so the result is the same either way.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from types import NoneType

import numpy as np
import orjson
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_KEY_TAG, _VALUE_TAG = 0x12, (0x82, 0x01)  # field 2 and field 16, length-delimited (wandb_internal.proto)
_SHORT = 0x80  # a length below this is one byte
_SCALARS = frozenset({float, int, str, bool, NoneType})
# Digits to "0", everything else to " ": a run of 19 digits may be an integer orjson would turn into a float.
_DIGIT_RUNS = bytes(48 if 48 <= byte <= 57 else 32 for byte in range(256))
_LONG_INTEGER = b"0" * 19


def _record_view() -> type:
    field = descriptor_pb2.FieldDescriptorProto
    proto = descriptor_pb2.FileDescriptorProto(name="diplo_pipeline/wandb_plain_items.proto",
                                               package="diplo_pipeline.wandb_plain_items", syntax="proto3")
    for name, field_name in (("HistoryView", "item"), ("SummaryView", "update")):
        proto.message_type.add(name=name).field.add(name=field_name, number=1, type=field.TYPE_BYTES,
                                                    label=field.LABEL_REPEATED)
    view = proto.message_type.add(name="RecordView")  # Record.history is field 2, Record.summary field 3
    for field_name, number, type_name in (("history", 2, "HistoryView"), ("summary", 3, "SummaryView")):
        view.field.add(name=field_name, number=number, type=field.TYPE_MESSAGE, label=field.LABEL_OPTIONAL,
                       type_name=f".{proto.package}.{type_name}")
    pool = descriptor_pool.DescriptorPool()  # its own pool: nothing here can clash with the SDK's types
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{proto.package}.RecordView"))


RecordView = _record_view()


def record_items(raw: bytes, kind: str, count: int) -> Sequence[bytes] | None:
    """The bytes of each history item or summary update of the record `raw`, already parsed by the SDK's
    Record with `count` of them; None when the two parses disagree (an oneof that switched kind within the
    record, of which the SDK keeps only the last)."""
    # FromString: a new message per record parses several times faster than ParseFromString into one reused.
    view = RecordView.FromString(raw)
    items = view.history.item if kind == "history" else view.summary.update
    return items if len(items) == count else None


class PlainBatch:
    """The items of many records, joined: which records are all plain, and their keys and JSON texts."""

    def __init__(self, items: list[bytes], spans: list[tuple[int, int]], *, text_keys: bool) -> None:
        """`spans`: (first, end) of each record's items in `items`. Keys and texts come as str with
        `text_keys`, else as their UTF-8 bytes (the SDK's parse checked that they are UTF-8)."""
        self.spans: list[tuple[int, int] | None] = [None] * len(spans)  # per record: where in `parts`, how many
        self.parts: list = []
        self.all_plain = True
        if not items:
            return
        layout = _layout(items)
        ok = _plain(*layout)
        joined, data, starts, ends, tags = layout
        marked = data[: len(joined)].copy()
        # Each plain item becomes `NUL NUL key NUL NUL NUL value` (its five tag and length bytes set to NUL),
        # anything else all NULs: split on NUL, an item's key and value are 2 and 5 parts after where it starts.
        firsts, lasts = (np.array(side, np.int64) for side in zip(*spans, strict=True))
        nuls = np.full(len(items), 5, np.int64)
        plain = np.ones(len(spans), bool)
        if not ok.all():  # a record is read from here only if all its items are plain
            self.all_plain = False
            bad_before = np.concatenate(([0], np.cumsum(~ok)))
            plain = bad_before[lasts] == bad_before[firsts]
            ok = np.repeat(plain, lasts - firsts)  # spans are in order and cover every item
            marked[np.repeat(~ok, ends - starts)] = 0
            nuls[~ok] = (ends - starts)[~ok]
            starts, tags = starts[ok], tags[ok]
        before = np.concatenate(([0], np.cumsum(nuls)))[firsts]
        counts = (lasts - firsts).tolist()
        self.spans = [(at, count) if fine else None
                      for at, count, fine in zip(before.tolist(), counts, plain.tolist(), strict=True)]
        for at in (starts, starts + 1, tags, tags + 1, tags + 2):
            marked[at] = 0
        text = marked.tobytes()
        self.parts = text.decode().split("\x00") if text_keys else text.split(b"\x00")

    def keys(self, i: int) -> list:
        at, count = self.spans[i]
        return self.parts[at + 2 : at + 2 + 5 * count : 5]

    def texts(self, i: int) -> list:
        at, count = self.spans[i]
        return self.parts[at + 5 : at + 5 + 5 * count : 5]

    def all_texts(self) -> list | None:
        """Every record's texts in order, when every item is plain."""
        return self.parts[5::5] if self.all_plain else None


def _layout(items: list[bytes]) -> tuple[bytes, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The joined bytes, the same padded as an array, and per item: its start, end, and where its
    value_json tag would be."""
    lengths = np.fromiter(map(len, items), np.int64, len(items))
    ends = np.cumsum(lengths)
    starts = ends - lengths
    joined = b"".join(items)
    data = np.frombuffer(joined + bytes(8), np.uint8)
    tags = starts + 2 + data[np.minimum(starts + 1, len(data) - 1)]
    return joined, data, starts, ends, tags


def _plain(joined: bytes, data: np.ndarray, starts: np.ndarray, ends: np.ndarray, tags: np.ndarray) -> np.ndarray:
    """Per item: its bytes are exactly `0x12 n key[n] 0x82 0x01 m value[m]` with n, m < 128, m > 0, and no
    NUL in the key or value (the split below uses NUL as its separator)."""
    ok = (ends - starts >= 6) & (data[starts] == _KEY_TAG) & (data[starts + 1] < _SHORT) & (tags + 4 <= ends)
    tags = np.where(ok, tags, starts)  # keep the reads below inside each item
    sizes = data[tags + 2]
    ok &= (data[tags] == _VALUE_TAG[0]) & (data[tags + 1] == _VALUE_TAG[1]) & (sizes < _SHORT) & (sizes > 0)
    ok &= tags + 3 + sizes == ends
    zeros = np.flatnonzero(data[: len(joined)] == 0) if b"\x00" in joined else ()
    if len(zeros):  # a NUL is fine only as a key length (an empty key): anything else is in a key or value
        owner = np.searchsorted(starts, zeros, side="right") - 1
        inside = zeros != starts[owner] + 1
        ok[owner[inside]] = False
    return ok


def plain_values(texts: list[str]) -> list | None:
    """The decoded values of the texts, when each is one plain JSON value (number, string, boolean, null)
    that `values.values_to_dict` would keep as it is; else None.

    The texts are decoded as one JSON array. With exactly one comma between texts and none inside them, and
    as many elements as texts, element i is text i (no string or bracket spans two texts). orjson decodes
    it unless there is NaN/Infinity, a number beyond a double, or a run of 19 digits (an integer orjson
    would turn into a float); then the json module does (the same scanner as `values_to_dict`), unless a
    \\u escape needs the lone-surrogate check. Lists and dicts are left to `values_to_dict` (depth checks,
    flattening).
    """
    count = len(texts)
    if not count:
        return []
    joined = ",".join(texts)
    if joined.count(",") != count - 1:
        return None
    array = "[" + joined + "]"
    values = None
    if _LONG_INTEGER not in joined.encode().translate(_DIGIT_RUNS):
        try:
            values = orjson.loads(array)
        except orjson.JSONDecodeError:
            values = None
    if values is None:
        if "\\u" in joined:
            return None
        try:
            values = json.loads(array)
        except (ValueError, RecursionError):
            return None
    if len(values) != count or not _SCALARS.issuperset(map(type, values)):
        return None
    return values
