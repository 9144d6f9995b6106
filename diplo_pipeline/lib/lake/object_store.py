"""The lake on S3-compatible object storage: `DIPLO_LAKE_URL=s3://bucket/prefix`, credentials from `AWS_*`.

The rest of the code speaks `pathlib`: a lake path is joined with `/`, globbed, stat'ed, read and written.
`ObjectPath` is that same small vocabulary over `pyarrow.fs.S3FileSystem` (the one filesystem layer every
Python-side read and write of the lake goes through), so no module branches on "is this S3?". Its `str()` is
the `s3://` URL, which DuckDB reads and writes through httpfs (lib/lake/duck.py loads it from its PyPI package).

What object storage does not have, and what stands in for it:
- rename: not needed. A PUT is atomic (a reader sees the old object or the new one, never half), so a file is
  written whole to its final key; `atomic_target` hands back the path itself.
- hard links (`.good` versions): a server-side copy (`link_or_copy`).
- inodes: a version is (size, modification time); S3 keeps the latter to the second, so `version_of` adds
  no inode and the fingerprints built from it say "size and mtime" as they do on disk.
- file locks: a build holds a lease object instead (lib/lake/bucket_lease.py).
"""

from __future__ import annotations

import fnmatch
import functools
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

if TYPE_CHECKING:
    from pyarrow import fs as pafs

LAKE_URL_VARIABLE = "DIPLO_LAKE_URL"


@dataclass(frozen=True)
class S3Settings:
    """What a client needs to reach the bucket, from the variables every S3 tool reads."""

    key_id: str | None
    secret: str | None
    region: str
    endpoint: str | None  # http(s)://host:port of an S3-compatible store (MinIO, moto, GCS's interop)

    @classmethod
    def from_env(cls) -> S3Settings:
        return cls(
            key_id=os.environ.get("AWS_ACCESS_KEY_ID"),
            secret=os.environ.get("AWS_SECRET_ACCESS_KEY"),
            region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
            endpoint=os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None,
        )

    @property
    def endpoint_host(self) -> str | None:
        return urlparse(self.endpoint).netloc if self.endpoint else None

    @property
    def uses_ssl(self) -> bool:
        return not self.endpoint or urlparse(self.endpoint).scheme != "http"


def _pafs():
    """pyarrow's filesystems, imported when a bucket is first used: `diplo` on a local lake never pays for it
    (tests/unit/cli/test_cli_imports.py)."""
    from pyarrow import fs

    return fs


@functools.cache
def _filesystem(settings: S3Settings) -> pafs.S3FileSystem:
    kwargs: dict[str, Any] = {"region": settings.region}
    if settings.key_id:
        kwargs |= {"access_key": settings.key_id, "secret_key": settings.secret}
    if settings.endpoint:
        parsed = urlparse(settings.endpoint)
        kwargs |= {"endpoint_override": parsed.netloc, "scheme": parsed.scheme or "https"}
    return _pafs().S3FileSystem(**kwargs)


@dataclass(frozen=True)
class ObjectStat:
    st_size: int
    st_mtime_ns: int
    st_ino: int = 0  # objects have no inode: a version is its size and modification time

    @property
    def st_mtime(self) -> float:
        return self.st_mtime_ns / 1e9


class ObjectPath:
    """An object key under a bucket, with the `pathlib.Path` methods the lake uses."""

    __slots__ = ("bucket", "key", "settings", "_listed")

    def __init__(self, url: str, settings: S3Settings | None = None, listed: pafs.FileInfo | None = None):
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ValueError(f"{url!r} is not an s3://bucket/prefix URL")
        self.bucket, self.key = parsed.netloc, parsed.path.strip("/")
        self.settings = settings or S3Settings.from_env()
        # What the listing that found this path said about it: a walk over a folder (a fingerprint stat'ing
        # every file) costs one LIST, not a HEAD per file.
        self._listed = listed

    # -- names ------------------------------------------------------------------------------------------
    def _child(self, key: str) -> ObjectPath:
        return ObjectPath(f"s3://{self.bucket}/{key}", self.settings)

    def __truediv__(self, other: Any) -> ObjectPath:
        part = str(other).strip("/")
        return self._child(f"{self.key}/{part}" if self.key else part)

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def __repr__(self) -> str:
        return f"ObjectPath({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ObjectPath) and str(self) == str(other)

    def __lt__(self, other: ObjectPath) -> bool:
        return str(self) < str(other)

    def __hash__(self) -> int:
        return hash(str(self))

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1]

    @property
    def suffix(self) -> str:
        name = self.name
        return name[name.rfind("."):] if "." in name.lstrip(".") else ""

    @property
    def stem(self) -> str:
        return self.name[: len(self.name) - len(self.suffix)] if self.suffix else self.name

    @property
    def parent(self) -> ObjectPath:
        return self._child(self.key.rsplit("/", 1)[0] if "/" in self.key else "")

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(self.key.split("/")) if self.key else ()

    def with_name(self, name: str) -> ObjectPath:
        return self.parent / name

    def relative_to(self, other: ObjectPath) -> _Relative:
        prefix = f"{other.key}/" if other.key else ""
        if other.bucket != self.bucket or not self.key.startswith(prefix):
            raise ValueError(f"{self} is not under {other}")
        return _Relative(self.key[len(prefix):])

    def resolve(self) -> ObjectPath:
        return self

    def expanduser(self) -> ObjectPath:
        return self

    # -- the store --------------------------------------------------------------------------------------
    @property
    def fs(self) -> pafs.S3FileSystem:
        return _filesystem(self.settings)

    @property
    def fs_path(self) -> str:
        """The path pyarrow's filesystem calls take (bucket/key, no scheme)."""
        return f"{self.bucket}/{self.key}"

    def _info(self) -> pafs.FileInfo:
        if self._listed is not None:
            return self._listed
        return self.fs.get_file_info(self.fs_path)

    def _found(self, info: pafs.FileInfo) -> ObjectPath:
        return ObjectPath(f"s3://{info.path}", self.settings, listed=info)

    def exists(self) -> bool:
        return self._info().type != _pafs().FileType.NotFound

    def is_file(self) -> bool:
        return self._info().type == _pafs().FileType.File

    def is_dir(self) -> bool:
        return self._info().type == _pafs().FileType.Directory

    def stat(self) -> ObjectStat:
        info = self._info()
        if info.type == _pafs().FileType.NotFound:
            raise FileNotFoundError(str(self))
        return ObjectStat(st_size=info.size or 0, st_mtime_ns=info.mtime_ns or 0)

    def _listing(self, recursive: bool) -> list[pafs.FileInfo]:
        selector = _pafs().FileSelector(self.fs_path, recursive=recursive, allow_not_found=True)
        try:
            return self.fs.get_file_info(selector)
        except (FileNotFoundError, NotADirectoryError):
            return []

    def iterdir(self) -> Iterator[ObjectPath]:
        for info in self._listing(recursive=False):
            yield self._found(info)

    def glob(self, pattern: str) -> Iterator[ObjectPath]:
        """Files (and folders) directly under this one whose name matches `pattern` (one level, like the
        lake's patterns `*.parquet`); `**/` at the front searches every level."""
        recursive = pattern.startswith("**/")
        name_pattern = pattern.removeprefix("**/")
        if "/" in name_pattern:
            head, tail = name_pattern.rsplit("/", 1)
            yield from (self / head).glob(tail)
            return
        for info in self._listing(recursive):
            if fnmatch.fnmatchcase(info.base_name, name_pattern):
                yield self._found(info)

    def rglob(self, pattern: str) -> Iterator[ObjectPath]:
        return self.glob(f"**/{pattern}")

    def mkdir(self, parents: bool = False, exist_ok: bool = False) -> None:
        """Nothing to do: a key's folders exist as soon as an object is written under them."""

    def read_bytes(self) -> bytes:
        try:
            with self.fs.open_input_stream(self.fs_path) as stream:
                return stream.read()
        except OSError as exc:
            if not self.exists():
                raise FileNotFoundError(str(self)) from exc
            raise

    def read_text(self, encoding: str = "utf-8") -> str:
        return self.read_bytes().decode(encoding)

    def write_bytes(self, data: bytes) -> int:
        """One PUT: the object appears whole when the stream closes, or not at all."""
        with self.fs.open_output_stream(self.fs_path) as stream:
            stream.write(data)
        return len(data)

    def write_text(self, text: str, encoding: str = "utf-8") -> int:
        return self.write_bytes(text.encode(encoding))

    def open(self, mode: str = "r", encoding: str | None = "utf-8"):
        if mode not in ("r", "rb"):
            raise ValueError(f"{self}: objects are written whole (write_bytes), not opened with {mode!r}")
        data = io.BytesIO(self.read_bytes())
        return data if mode == "rb" else io.TextIOWrapper(data, encoding=encoding or "utf-8")

    def unlink(self, missing_ok: bool = False) -> None:
        try:
            self.fs.delete_file(self.fs_path)
        except FileNotFoundError:
            if not missing_ok:
                raise

    def remove_tree(self) -> None:
        self.fs.delete_dir_contents(self.fs_path, missing_dir_ok=True)
        self.unlink(missing_ok=True)

    def copy_to(self, target: ObjectPath) -> None:
        """A server-side copy: the bytes never leave the store."""
        self.fs.copy_file(self.fs_path, target.fs_path)


@dataclass(frozen=True)
class _Relative:
    """A key below a lake prefix, as `Path.relative_to` returns it (only `.parts` and `str` are used)."""

    text: str

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(self.text.split("/"))

    def __str__(self) -> str:
        return self.text


def lake_url_from_env() -> str | None:
    return (os.environ.get(LAKE_URL_VARIABLE) or "").strip() or None


def object_root(url: str) -> ObjectPath:
    return ObjectPath(url)
