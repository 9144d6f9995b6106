"""Read a gzip file as far as it can be trusted: a truncated stream keeps everything before the cut.

`gzip.open(...).read()` raises on a cut stream and hands back nothing, not even the part that
decompressed fine. Here the stream is decompressed piece by piece (zlib, concatenated members too):

- cut short (an interrupted download or copy): everything decompressed before the cut is kept;
- corrupt (invalid deflate data, or a CRC that does not match): what the damaged member decompressed to
  is dropped. A flipped bit inside a deflate stream often decompresses to valid-looking but wrong text
  (digits changed, copied forward by back-references) that is only caught by the CRC at the member's end,
  so none of it can be trusted. Members before it, each checked by its own CRC, are kept.

Either way the damage is described in words a person can act on.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

_CHUNK = 1 << 16
_GZIP = 16 + zlib.MAX_WBITS  # gzip header and trailer (CRC and length are checked)
_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class Salvaged:
    data: bytes
    damage: str | None = None  # None when the whole stream was read and checked
    cut: bool = False  # the stream ended early: `data` stops wherever the cut fell, maybe mid-record


class _Reader:
    def __init__(self) -> None:
        self.out: list[bytes] = []
        self.verified = 0  # pieces of `out` from members whose CRC matched
        self.consumed = 0  # compressed bytes fed so far
        self.stream = zlib.decompressobj(_GZIP)
        self.started = False  # the current member has received bytes

    def feed(self, buf: bytes) -> None:
        """Decompress `buf`, following concatenated members; raises zlib.error at damage."""
        while buf:
            if not self.started and not buf.strip(b"\0"):
                self.consumed += len(buf)  # zero padding after the last member, as gzip itself allows
                return
            self.started = True
            self.out.append(self.stream.decompress(buf))
            if not self.stream.eof:
                self.consumed += len(buf)
                return
            rest = self.stream.unused_data
            self.consumed += len(buf) - len(rest)
            self.verified = len(self.out)
            self.stream, self.started = zlib.decompressobj(_GZIP), False
            buf = rest

    def size(self, pieces: int | None = None) -> int:
        return sum(len(piece) for piece in self.out[:pieces])


def read_gzip(path: Path) -> Salvaged:
    """The trustworthy decompressed bytes of `path` and what was wrong, if anything. Raises only OSError."""
    reader = _Reader()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            if reader.consumed == 0 and not chunk.startswith(_MAGIC):
                return Salvaged(b"", f"{path.name} is not gzip data although its name ends in .gz: rename or "
                                     "re-export it")
            try:
                reader.feed(chunk)
            except zlib.error as exc:
                return Salvaged(b"".join(reader.out[:reader.verified]), _corrupt(path, reader, exc))
    data = b"".join(reader.out)
    if reader.started:
        return Salvaged(data, _truncated(path, reader), cut=True)
    return Salvaged(data)


def _corrupt(path: Path, reader: _Reader, exc: zlib.error) -> str:
    kept = reader.size(reader.verified)
    what = (f"the {kept:,} bytes of its complete members before the damage were kept" if kept else
            "nothing of it was ingested")
    return (
        f"{path.name} is corrupt at about byte {reader.consumed:,} of its gzip stream ({exc}). Data decompressed "
        f"from a damaged stream cannot be trusted (a flipped bit can change values without breaking the JSON), "
        f"so {what}. Export it again and replace the file."
    )


def _truncated(path: Path, reader: _Reader) -> str:
    return (
        f"{path.name} is cut short: its gzip stream ends after {reader.consumed:,} bytes without its end "
        f"marker. The {reader.size():,} bytes read before the cut were kept; what followed is lost. Export it "
        "again and replace the file."
    )
