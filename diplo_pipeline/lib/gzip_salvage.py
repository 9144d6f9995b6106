"""Read a gzip file as far as it can be read: a truncated or damaged stream keeps what came before.

`gzip.open(...).read()` raises on a cut or corrupt stream and hands back nothing, not even the part that
decompressed fine. Here the stream is decompressed piece by piece (zlib, concatenated members too), so
everything before the damage is kept, and the damage is described in words a person can act on.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

_CHUNK = 1 << 16
_RETRY_PIECE = 256  # after an error, the chunk is fed again in pieces this small to keep what precedes it
_GZIP = 16 + zlib.MAX_WBITS  # gzip header and trailer (CRC and length are checked)


@dataclass(frozen=True)
class Salvaged:
    data: bytes
    damage: str | None = None  # None when the whole stream was read and checked


class _Reader:
    def __init__(self) -> None:
        self.out: list[bytes] = []
        self.size = 0  # decompressed bytes kept
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
            data = self.stream.decompress(buf)
            self.out.append(data)
            self.size += len(data)
            if self.stream.eof:
                rest = self.stream.unused_data
                self.consumed += len(buf) - len(rest)
                self.stream, self.started = zlib.decompressobj(_GZIP), False
                buf = rest
            else:
                self.consumed += len(buf)
                buf = b""

    def feed_carefully(self, buf: bytes) -> None:
        """After an error in `buf`: feed it again from the state before it, in small pieces, so the output
        up to the damage is kept; re-raises at the damage."""
        for start in range(0, len(buf), _RETRY_PIECE):
            self.feed(buf[start:start + _RETRY_PIECE])


def read_gzip(path: Path) -> Salvaged:
    """The decompressed bytes of `path` up to any damage, and what the damage was. Raises only OSError."""
    reader = _Reader()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            saved = (reader.stream.copy(), reader.started, reader.consumed, len(reader.out), reader.size)
            try:
                reader.feed(chunk)
            except zlib.error:
                reader.stream, reader.started, reader.consumed, kept, reader.size = saved
                del reader.out[kept:]
                try:
                    reader.feed_carefully(chunk)
                except zlib.error as exc:
                    return Salvaged(b"".join(reader.out), _damaged(path, reader, exc))
    data = b"".join(reader.out)
    if reader.started:
        return Salvaged(data, _truncated(path, reader))
    return Salvaged(data)


def _damaged(path: Path, reader: _Reader, exc: zlib.error) -> str:
    if reader.size == 0 and reader.consumed < 10:
        return f"{path.name} is not gzip data although its name ends in .gz ({exc}): rename or re-export it"
    return (
        f"{path.name} is damaged at about byte {reader.consumed:,} of its gzip stream ({exc}). The "
        f"{reader.size:,} bytes before that were read and kept; what follows is lost. Export it again and "
        "replace the file."
    )


def _truncated(path: Path, reader: _Reader) -> str:
    return (
        f"{path.name} is cut short: its gzip stream ends after {reader.consumed:,} bytes without its end "
        f"marker. The {reader.size:,} bytes read before the cut were kept; what followed is lost. Export it "
        "again and replace the file."
    )
