"""The framing of WandB's `.wandb` transaction log: blocks of chunks → records, and an account of every
byte that is not in a record (source-formats.md §A.2).

The file is a 7-byte header, then 32 KiB blocks of chunks `<crc32:u32><length:u16><type:u8><data>`; a
record is one FULL chunk or FIRST, MIDDLE…, LAST. Both writers WandB has had (wandb-core's Go
`leveldb.Writer` and the legacy Python `datastore.py`) write nothing but chunks, plus zero padding where
fewer than 7 bytes are left in a block (the block trailer); neither pre-allocates or pads with zeros
anywhere else. So zeros where a chunk header should be are damage — a disk or a copy that never got the
data — not writer padding, and they are counted and quarantined like any other damage.

Reading never raises on damage once the header is valid. After damage the reader picks up again at the
first chunk that passes its CRC check (in the same block, or the next block): everything readable before
and after a damaged region is kept, and each region is reported once, with its byte range. Accounting:
every byte after the start is in a record that was read, in block-trailer padding, or in a reported
region; `ReadStats.accounted_bytes()` adds them up (the fuzz tests hold it to the file size).
"""

from __future__ import annotations

import re
import struct
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

FILE_HEADER = b":W&B" + struct.pack("<HB", 0xBEE1, 0)
HEADER_LEN = len(FILE_HEADER)
BLOCK_SIZE = 32 * 1024
CHUNK_HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
# The CRC covers the type byte then the data (IEEE polynomial, as wandb-core's CRCAlgoIEEE).
_CRC_SEED = {t: zlib.crc32(bytes([t])) for t in (FULL, FIRST, MIDDLE, LAST)}
_NONZERO = re.compile(rb"[^\x00]")
_ZERO_RUN = re.compile(rb"\x00{32,}")  # real records hold no such runs (in the demo's files: 1 zero at most)
_CHUNK_TYPE = re.compile(rb"[\x01-\x04]")

# Damage to the framing: each region loses one or more records and counts once in `corrupt_records`.
FRAMING_DAMAGE = ("zero_filled", "crc_mismatch", "bad_chunk", "orphan_chunk", "unfinished_record")
# The file ends inside a record: a run still being written, or the last record of one that was killed.
TRUNCATED = "truncated"
_WHAT = {
    "zero_filled": "zeros where records should be: the records written there are lost (WandB never writes "
                   "zeros there; the file was damaged on disk or in a copy)",
    "crc_mismatch": "a chunk whose CRC does not match its data (CRC mismatch): the record it belongs to is lost",
    "bad_chunk": "bytes that are not a chunk (impossible type or length): the records there are lost",
    "orphan_chunk": "the continuation of a record whose first part is lost",
    "unfinished_record": "the start of a record whose last part is lost",
    TRUNCATED: "the start of a record the file ends inside",
}


class NotAWandbFile(ValueError):
    """The file does not start with the W&B transaction-log header."""


@dataclass(frozen=True)
class Damage:
    """A byte range of the file that did not give records (or, for `unparseable` and `bad_value`, a record
    or a value inside one that could not be decoded). `detail` says what exactly was found."""

    offset: int
    length: int
    kind: str
    detail: str = ""
    at_end: bool = False  # the region runs to the end of the file
    raw: str | None = None  # the undecodable value's JSON text (bad_value)

    @property
    def end(self) -> int:
        return self.offset + self.length

    def reason(self) -> str:
        where = f"bytes {self.offset}-{self.end} ({self.length} bytes)"
        if self.kind == "unparseable":
            return (f"{where}: a record whose framing is intact does not decode as a WandB Record "
                    f"({self.detail}); it was skipped and every other record kept")
        if self.kind == "bad_value":
            return f"{where}: {self.detail}"
        what = _WHAT.get(self.kind, self.kind) + (f" ({self.detail})" if self.detail else "")
        if self.kind == TRUNCATED:
            return (f"{where}: {what}. If the run is still being written the rest comes with its next block "
                    "and is read then; if it stopped, that last record was lost with it. Everything before "
                    f"byte {self.offset} was read.")
        if self.at_end:
            return (f"{where} to the end of the file: {what}. Everything before byte {self.offset} was read. "
                    "If the run is still being written this clears once the writer fills the space; otherwise "
                    "restore the file from a good copy (e.g. the machine the run ran on) and build again.")
        return (f"{where}: {what}. The records before and after it were read. Restore the file from a good "
                "copy (e.g. the machine the run ran on) and build again.")


@dataclass
class ReadStats:
    records: int = 0  # complete records framed (each is then parsed, or counted in unparseable_records)
    kinds: Counter = field(default_factory=Counter)  # records parsed, by record type
    unparseable_records: int = 0  # framing fine, protobuf not
    bad_value_records: int = 0  # parsed, but some values in them could not be decoded (set aside)
    tail: str = "clean"  # clean | truncated | zero_filled | damaged (what the file ends in)
    end_offset: int = HEADER_LEN  # just past the last complete record: where a later read resumes
    start_offset: int = HEADER_LEN  # where this read started
    record_bytes: int = 0  # bytes of the records read (their chunks, with any padding between them)
    padding_bytes: int = 0  # block trailers outside records
    damage: list[Damage] = field(default_factory=list)

    @property
    def corrupt_records(self) -> int:
        """Damaged regions of the framing, each losing one or more records (how many cannot be known)."""
        return sum(1 for d in self.damage if d.kind in FRAMING_DAMAGE)

    def damaged_bytes(self) -> int:
        return sum(d.length for d in self.damage if d.kind in FRAMING_DAMAGE or d.kind == TRUNCATED)

    def accounted_bytes(self) -> int:
        """Bytes from `start_offset` that are in a record, in padding or in a reported region: the file's size."""
        return self.start_offset + self.record_bytes + self.padding_bytes + self.damaged_bytes()

    def add(self, damage: Damage) -> None:
        last = self.damage[-1] if self.damage else None
        if last and last.kind in FRAMING_DAMAGE and damage.kind in FRAMING_DAMAGE and last.end >= damage.offset:
            # Adjacent damage is one region: one count, one quarantine entry. Zeros name the region when
            # they are part of it (the chunk they cut into fails its CRC check because of them).
            end = max(last.end, damage.end)
            kind = "zero_filled" if "zero_filled" in (last.kind, damage.kind) else last.kind
            parts = last.detail.split("; ")
            detail = last.detail if len(parts) >= 3 or damage.detail in parts else f"{last.detail}; {damage.detail}"
            self.damage[-1] = Damage(last.offset, end - last.offset, kind, detail, damage.at_end)
        else:
            self.damage.append(damage)


def _chunk_at(buf: bytes, pos: int) -> bool:
    """A chunk that fits its block and the file and passes its CRC check starts at `pos`."""
    left = BLOCK_SIZE - pos % BLOCK_SIZE
    if left < CHUNK_HEADER or pos + CHUNK_HEADER > len(buf):
        return False
    crc, length, kind = struct.unpack_from("<IHB", buf, pos)
    end = pos + CHUNK_HEADER + length
    return FULL <= kind <= LAST and end <= pos + left and end <= len(buf) and zlib.crc32(
        buf[pos + CHUNK_HEADER : end], _CRC_SEED[kind]) == crc


def _recover(buf: bytes, start: int) -> int:
    """Where reading goes on after damage: the first intact chunk at or after `start` in its block, else
    the next block (where the writer always starts a fresh chunk), else the end of the file."""
    block_end = min(len(buf), (start // BLOCK_SIZE + 1) * BLOCK_SIZE)
    for match in _CHUNK_TYPE.finditer(buf, start + CHUNK_HEADER - 1, block_end):
        pos = match.start() - (CHUNK_HEADER - 1)
        if _chunk_at(buf, pos):
            return pos
    return block_end


def iter_records(buf: bytes, stats: ReadStats, start: int | None = None) -> Iterator[tuple[int, bytes]]:
    """(offset, payload) of every intact record from `start` (a record boundary); damage goes in `stats`."""
    if buf[:HEADER_LEN] != FILE_HEADER:
        raise NotAWandbFile("missing the ':W&B' header: not a WandB transaction log")
    size = len(buf)
    pos = max(start or HEADER_LEN, HEADER_LEN)
    stats.start_offset = stats.end_offset = pos
    stats.tail = "clean"  # what this read finds at the end
    parts: list[bytes] | None = None  # chunks of the record being assembled
    first_at = pos  # where that record starts
    pending_padding = 0  # block trailers skipped inside it

    def damaged(kind: str, begin: int, end: int, detail: str = "") -> None:
        nonlocal parts, pending_padding
        if parts is not None:  # the record being assembled is lost with it
            begin, parts = first_at, None
            stats.padding_bytes -= pending_padding
        pending_padding = 0
        zeros = _ZERO_RUN.search(buf, begin, end) if kind != "zero_filled" else None
        if zeros:  # zeros inside a chunk make it fail its CRC check: they are what the region lost
            kind, detail = "zero_filled", f"{detail}; zeros at bytes {zeros.start()}-{zeros.end()}"
        stats.add(Damage(begin, end - begin, kind, detail, at_end=end >= size))

    while pos < size:
        left = BLOCK_SIZE - pos % BLOCK_SIZE
        if left < CHUNK_HEADER:  # the block trailer: the writer's only padding
            skip = min(left, size - pos)
            stats.padding_bytes += skip
            pending_padding += skip if parts is not None else 0
            pos += skip
            continue
        if not any(buf[pos : pos + CHUNK_HEADER]):
            zeros = _NONZERO.search(buf, pos)
            # The next chunk may begin up to 6 bytes before the first non-zero byte (its type byte is never 0).
            resume = _recover(buf, max(pos + 1, zeros.start() - CHUNK_HEADER + 1)) if zeros else size
            damaged("zero_filled", pos, resume, f"zeros at bytes {pos}-{zeros.start() if zeros else size}")
            pos = resume
            continue
        if pos + CHUNK_HEADER > size:
            break  # the file ends inside a chunk header: see the tail below
        crc, length, kind = struct.unpack_from("<IHB", buf, pos)
        end = pos + CHUNK_HEADER + length
        if not FULL <= kind <= LAST or end > pos + left:
            resume = _recover(buf, pos + 1)
            why = f"an impossible chunk header (type {kind}, length {length}) at byte {pos}"
            damaged("bad_chunk", pos, resume, why)
            pos = resume
            continue
        if end > size:
            resume = _recover(buf, pos + 1)
            if resume >= size:
                break  # the file ends inside this chunk
            # An intact chunk follows: the length is damaged, this is not where the file was cut.
            damaged("bad_chunk", pos, resume, f"a chunk at byte {pos} whose length runs past the end of the file")
            pos = resume
            continue
        data = buf[pos + CHUNK_HEADER : end]
        if zlib.crc32(data, _CRC_SEED[kind]) != crc:
            # The length may be what was damaged: look for the next intact chunk rather than trust it.
            resume = _recover(buf, pos + 1)
            damaged("crc_mismatch", pos, resume, f"a CRC mismatch in the chunk at byte {pos}")
            pos = resume
            continue
        if kind in (FULL, FIRST) and parts is not None:
            damaged("unfinished_record", first_at, pos, f"a record at byte {first_at} without its last chunk")
        if kind == FULL:
            stats.records += 1
            stats.record_bytes += end - pos
            stats.end_offset = end
            yield pos, data
        elif kind == FIRST:
            parts, first_at, pending_padding = [data], pos, 0
        elif parts is None:
            damaged("orphan_chunk", pos, end, f"a chunk at byte {pos} continuing a lost record")
        else:
            parts.append(data)
            if kind == LAST:
                stats.records += 1
                stats.record_bytes += end - first_at  # trailers inside the record are part of its span
                stats.padding_bytes -= pending_padding
                stats.end_offset = end
                payload, parts, pending_padding = b"".join(parts), None, 0
                yield first_at, payload
        pos = end
    if pos < size or parts is not None:
        begin = first_at if parts is not None else pos
        stats.padding_bytes -= pending_padding if parts is not None else 0
        stats.damage.append(Damage(begin, size - begin, TRUNCATED, "", at_end=True))
        stats.tail = TRUNCATED
    elif stats.damage and stats.damage[-1].at_end and stats.damage[-1].kind in FRAMING_DAMAGE:
        stats.tail = "zero_filled" if stats.damage[-1].kind == "zero_filled" else "damaged"


def iter_raw_records(buf: bytes, stats: ReadStats, start: int | None = None) -> Iterator[bytes]:
    """The payload of every intact record (see `iter_records`)."""
    for _offset, payload in iter_records(buf, stats, start):
        yield payload
