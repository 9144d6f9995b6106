"""Byte-level mutation of real inputs, and the regression corpus that keeps every failure found.

A reader under fuzzing must never crash and must account for every record: kept or quarantined with a
reason. `make test` runs a fixed number of mutants per seed file (same seed, same mutants); `make fuzz`
runs the same loop until `DIPLO_FUZZ_SECONDS` have passed and saves each failing input under
`regressions/<reader>/`, where the replay tests pick it up from then on.
"""

from __future__ import annotations

import hashlib
import os
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path

PROFILE = os.environ.get("DIPLO_FUZZ_PROFILE", "ci")
REGRESSIONS = Path(__file__).parent / "regressions"
CI_MUTANTS_PER_SEED = 40


def _flip_bits(data: bytearray, rng: random.Random) -> str:
    for _ in range(rng.randint(1, 8)):
        pos = rng.randrange(len(data))
        data[pos] ^= 1 << rng.randrange(8)
    return "flip_bits"


def _truncate(data: bytearray, rng: random.Random) -> str:
    del data[rng.randrange(len(data)):]
    return "truncate"


def _zero_fill(data: bytearray, rng: random.Random) -> str:
    start = rng.randrange(len(data))
    end = min(len(data), start + rng.choice([1, 7, 64, 4096, 40_000, len(data)]))
    data[start:end] = bytes(end - start)
    return "zero_fill"


def _insert_random(data: bytearray, rng: random.Random) -> str:
    pos = rng.randrange(len(data) + 1)
    data[pos:pos] = rng.randbytes(rng.choice([1, 3, 16, 300]))
    return "insert_random"


def _delete_range(data: bytearray, rng: random.Random) -> str:
    start = rng.randrange(len(data))
    del data[start:start + rng.choice([1, 5, 100, 2000])]
    return "delete_range"


def _duplicate_range(data: bytearray, rng: random.Random) -> str:
    start = rng.randrange(len(data))
    chunk = data[start:start + rng.choice([10, 200, 5000])]
    pos = rng.randrange(len(data) + 1)
    data[pos:pos] = chunk
    return "duplicate_range"


def _interesting_bytes(data: bytearray, rng: random.Random) -> str:
    """Bytes that trip parsers: NUL, high bit, lone surrogates' UTF-8-ish forms, brackets, quotes."""
    pos = rng.randrange(len(data))
    token = rng.choice([b"\x00", b"\xff", b"\xed\xa0\x80", b"[" * 1000, b'"', b"\\", b"\n", b"{", b"9" * 400])
    data[pos:pos] = token
    return "interesting_bytes"


MUTATORS: tuple[Callable[[bytearray, random.Random], str], ...] = (
    _flip_bits, _truncate, _zero_fill, _insert_random, _delete_range, _duplicate_range, _interesting_bytes,
)


def mutate(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    """One to three mutations of `data`; returns what was done and the result."""
    out = bytearray(data)
    done = []
    for _ in range(rng.randint(1, 3)):
        if not out:
            break
        done.append(rng.choice(MUTATORS)(out, rng))
    return "+".join(done), bytes(out)


def fuzz_seconds() -> float:
    return float(os.environ.get("DIPLO_FUZZ_SECONDS", "0"))


def mutants(seed_name: str, data: bytes,
            mutator: Callable[[bytes, random.Random], tuple[str, bytes]] = mutate) -> Iterator[tuple[str, bytes]]:
    """Mutants of one seed input: a fixed set in `make test`, or as many as `DIPLO_FUZZ_SECONDS` allow.
    `mutator` makes one mutant (default: the byte mutators above; a reader may bring structured ones)."""
    seconds = fuzz_seconds()
    rng = random.Random(seed_name if not seconds else None)
    deadline = time.monotonic() + seconds
    count = 0
    while count < CI_MUTANTS_PER_SEED if not seconds else time.monotonic() < deadline:
        count += 1
        yield mutator(data, rng)


def save_regression(reader: str, data: bytes, suffix: str) -> Path:
    """Keep a failing input for good: the reader's replay test reads every file in its folder."""
    folder = REGRESSIONS / reader
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hashlib.sha256(data).hexdigest()[:16]}{suffix}"
    path.write_bytes(data)
    return path


def regression_inputs(reader: str) -> list[Path]:
    folder = REGRESSIONS / reader
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")) if folder.exists() else []
