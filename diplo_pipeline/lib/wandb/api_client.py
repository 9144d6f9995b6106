"""The live WandB source: runs listed and histories fetched through the public API (`wandb.Api`).

Written against wandb>=0.31,<0.32 (source-formats.md §B). Since 0.27 the SDK sends GraphQL through its
Go service (wandb-core), which already backs off on 429 honouring `RateLimit-Reset` and retries 5xx;
this module adds what the SDK leaves to its callers: a retry when the service gives up or times out, a
clear error on 401/403 that names the variable to fix (api_errors.py), and results as plain records
(api_runs.py). The settings other than the key are api_settings.py.

The API key is passed in (the Dagster resource resolves `WANDB_API_KEY` when a run needs it) and is kept
out of every repr, message and record this module produces. Two failures are told at once rather
than retried: a key the SDK refuses by its format (before any request), and a host where nothing accepts
connections (wandb-core would retry a refused connection until its timeout, on every one of our attempts).
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pyarrow.parquet as pq
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from diplo_pipeline.lib.wandb.api_errors import (
    WandbAuthError,
    WandbUnavailableError,
    http_status,
    is_auth_failure,
    is_transient,
)
from diplo_pipeline.lib.wandb.api_preflight import key_problem, refused_connection
from diplo_pipeline.lib.wandb.api_runs import ApiRun, api_run_from_listing
from diplo_pipeline.lib.wandb.api_settings import WandbApiSettings

T = TypeVar("T")


class WandbApiSource:
    """A session with WandB's public API: incremental listings and full-resolution histories."""

    def __init__(self, api_key: str, settings: WandbApiSettings, wait_base_s: float = 1.0):
        self.settings = settings
        self._wait_base_s = wait_base_s
        self.calls = 0  # API calls made through this session (each may be several HTTP requests)
        # Messages from the SDK are quoted in our errors; the key is blanked out of them, should one ever
        # carry it. Kept in a closure, so it is in no attribute a repr or a debugger listing would show.
        self.redact: Callable[[str], str] = lambda text: text.replace(api_key, "<WANDB_API_KEY>")
        if problem := key_problem(api_key):
            raise WandbAuthError(
                f"WANDB_API_KEY is not a WandB API key: {problem} Nothing was sent to {settings.host}. Copy the "
                "key again from the WandB settings page (API keys), or unset WANDB_API_KEY to turn the live "
                "WandB source off."
            )
        if why := self._refused():
            raise WandbUnavailableError(self._refused_message(why, "verify the API key"))
        self._api = self._call(lambda: self._connect(api_key), "verify the API key")

    def __repr__(self) -> str:  # never show the key
        return f"WandbApiSource(host={self.settings.host!r}, project={self.settings.project!r})"

    def _connect(self, api_key: str):
        import wandb

        overrides = {"base_url": self.settings.base_url} if self.settings.base_url else {}
        return wandb.Api(api_key=api_key, overrides=overrides, timeout=self.settings.timeout_s)

    @property
    def url(self) -> str:
        """Where the SDK sends requests: WANDB_BASE_URL, else the SDK's own default host."""
        if self.settings.base_url:
            return self.settings.base_url
        from wandb.sdk import wandb_setup

        return wandb_setup.singleton().settings.base_url

    def _refused(self) -> str | None:
        return refused_connection(self.url, timeout_s=min(5.0, self.settings.timeout_s))

    def _refused_message(self, why: str, what: str) -> str:
        configured = (f"WANDB_BASE_URL is {self.settings.base_url}" if self.settings.base_url
                      else f"WANDB_BASE_URL is not set, so the SDK's default {self.url} is used")
        return (f"Cannot reach WandB at {self.url} while trying to {what}: {why}. {configured}: check that it "
                "names the right host and port and that the server is running, or unset WANDB_API_KEY to "
                "turn the live WandB source off. Nothing was written for this step.")

    def _call(self, fn: Callable[[], T], what: str) -> T:
        """Run one API call with retries; turn failures into errors a person can act on."""
        refused: list[str] = []

        def worth_another_try(exc: BaseException) -> bool:
            if not is_transient(exc):
                return False
            # A host that went away refuses connections: another attempt would only wait out the timeout.
            why = self._refused()
            if why:
                refused.append(why)
            return why is None

        retrying = Retrying(
            retry=retry_if_exception(worth_another_try),
            stop=stop_after_attempt(self.settings.attempts),
            wait=wait_exponential_jitter(multiplier=self._wait_base_s, max=30, jitter=self._wait_base_s),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    self.calls += 1
                    return fn()
        except Exception as exc:
            if is_auth_failure(exc):
                raise WandbAuthError(
                    f"WandB refused the API key (HTTP {http_status(exc)}) at {self.settings.host} while trying to "
                    f"{what}. "
                    "Set WANDB_API_KEY to a valid key for this host (and WANDB_ENTITY to an entity it can read), "
                    "or unset WANDB_API_KEY to turn the live WandB source off."
                ) from None
            if refused:
                raise WandbUnavailableError(self._refused_message(refused[0], what)) from None
            if is_transient(exc):
                reason = self.redact(str(exc)).rstrip(".")
                raise WandbUnavailableError(
                    f"WandB at {self.settings.host} did not answer after {self.settings.attempts} attempts while "
                    f"trying to {what}: {type(exc).__name__}: {reason}. Nothing was written for this step; the "
                    "next sync retries it. Check WANDB_BASE_URL and the service status."
                ) from None
            raise
        raise AssertionError("unreachable")  # pragma: no cover - Retrying either returns or raises

    # -- listing --------------------------------------------------------------------------------
    @property
    def entity(self) -> str:
        if self.settings.entity:
            return self.settings.entity
        return self._call(lambda: self._api.default_entity, "look up the key's default entity")

    def list_runs(self, heartbeat_after: str | None = None, *, full: bool = True,
                  also: list[str] | tuple[str, ...] = ()) -> list[ApiRun]:
        """Runs whose heartbeat is at or after the watermark, plus every run still running, plus the runs
        named in `also` (those the lake holds as running: one that WandB has since marked crashed keeps
        its old heartbeat and is no longer running, so neither of the other two would return it).

        `heartbeat_after` must be a string WandB itself returned: its filter compares WandB's own format,
        and a reformatted timestamp silently matches nothing (source-formats.md §B.2). With `full=False`
        the listing leaves config and summary out (a cheap listing to find deleted runs).
        """
        entity, project = self.entity, self.settings.project
        # `$gte`, not `$gt`: heartbeats have whole seconds, and a run whose heartbeat lands in the same
        # second as the watermark after this listing would otherwise be missed. Runs listed again this
        # way are not fetched again (their stored heartbeat matches).
        wanted: list[dict] = [{"heartbeatAt": {"$gte": heartbeat_after}}, {"state": "running"}]
        if also:
            wanted.append({"name": {"$in": sorted(also)}})
        filters = {} if heartbeat_after is None else {"$or": wanted}

        def listing() -> list[ApiRun]:
            self._api.flush()  # the SDK caches listings per query; a sync must see the server's answer
            runs = self._api.runs(f"{entity}/{project}", filters=filters, order="+heartbeat_at", per_page=100,
                                  lazy=not full)
            return [api_run_from_listing(run, entity, project) for run in runs]

        return self._call(listing, f"list runs of {entity}/{project}")

    # -- history --------------------------------------------------------------------------------
    def open_runs(self, runs: list[ApiRun]) -> dict[str, Any]:
        """SDK handles for the runs about to be fetched, from ONE lightweight listing per project rather
        than one `Run` request each (which would also fetch every config and summary again)."""
        handles: dict[str, Any] = {}
        by_project: dict[tuple[str, str], list[str]] = {}
        for run in runs:
            by_project.setdefault((run.entity, run.project), []).append(run.run_id)
        for (entity, project), ids in by_project.items():
            def listing(entity=entity, project=project, ids=ids) -> list[Any]:
                self._api.flush()
                return list(self._api.runs(f"{entity}/{project}", filters={"name": {"$in": ids}}, per_page=100,
                                           lazy=True))
            handles.update({handle.id: handle for handle in self._call(listing, f"open {len(ids)} runs")})
        return handles

    def history(self, run: ApiRun, handle: Any, *, after_step: int | None, work_dir: Path) -> list[dict[str, Any]]:
        """Every history row, full resolution: the Parquet export for a finished run read whole, or
        `scan_history` from the step after `after_step` for a run still being written. Rows come as
        WandB sends them: the live tail and the export can overlap on a step (the caller deduplicates)."""
        if run.state == "running" and after_step is not None:
            return self._scan(handle, after_step + 1)
        return self._export(handle, work_dir)

    def _scan(self, api_run, min_step: int) -> list[dict[str, Any]]:
        return self._call(
            lambda: within(self.settings.download_timeout_s,
                           lambda: list(api_run.scan_history(min_step=min_step, use_cache=False))),
            f"scan the history of run {api_run.id} from step {min_step}",
        )

    def _export(self, api_run, work_dir: Path) -> list[dict[str, Any]]:
        from wandb.apis.public.runhistory import IncompleteRunHistoryError

        def download():
            # A folder per attempt: an attempt abandoned after its timeout may still be writing to its own.
            target = Path(tempfile.mkdtemp(prefix=f"{api_run.id}-", dir=work_dir))
            result = within(self.settings.download_timeout_s,
                            lambda: api_run.download_history_exports(target, require_complete_history=True))
            return target, result

        try:
            target, result = self._call(download, f"download the history export of run {api_run.id}")
        except IncompleteRunHistoryError:
            # Some steps are not exported yet (a run that just finished): scan reads both parts.
            return self._scan(api_run, 0)
        try:
            if result.errors:
                raise WandbUnavailableError(
                    f"WandB could not deliver every history file of run {api_run.id}: {sorted(result.errors)}. "
                    "Nothing was written for this run; the next sync retries it."
                )
            return [row for path in sorted(result.paths) for row in parquet_rows(path)]
        finally:
            shutil.rmtree(target, ignore_errors=True)


    # -- artifacts and run files ------------------------------------------------------------------
    def artifacts(self, handle: Any) -> list[dict[str, Any]]:
        """The artifacts the run logged (with their file lists) and used, as `artifacts.api_artifact` reads them."""
        from diplo_pipeline.lib.wandb.artifacts import api_artifact

        def fetch() -> list[dict[str, Any]]:
            logged = [api_artifact(a, "logged") for a in handle.logged_artifacts() if a is not None]
            return logged + [api_artifact(a, "used") for a in handle.used_artifacts() if a is not None]

        return self._call(lambda: within(self.settings.download_timeout_s, fetch),
                          f"list the artifacts of run {handle.id}")

    def run_file(self, handle: Any, name: str, work_dir: Path) -> bytes | None:
        """One file of the run (a logged table's JSON), or None when WandB has no such file."""
        def fetch() -> bytes | None:
            found = list(handle.files(names=[name]))
            if not found:
                return None
            target = Path(tempfile.mkdtemp(prefix=f"{handle.id}-file-", dir=work_dir))
            try:
                found[0].download(root=str(target), replace=True)
                return (target / name).read_bytes()
            finally:
                shutil.rmtree(target, ignore_errors=True)

        return self._call(lambda: within(self.settings.download_timeout_s, fetch),
                          f"download {name} of run {handle.id}")


def within(seconds: float, fn: Callable[[], T]) -> T:
    """`fn()`, or TimeoutError after `seconds`. wandb-core retries a failing download on its own for as
    long as it likes (a "poisoned" run can keep it busy for good), and the SDK waits without a limit;
    this puts a bound on it. An abandoned call finishes or fails inside wandb-core, unobserved."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            outcome["error"] = exc

    worker = threading.Thread(target=target, daemon=True, name="wandb-api-call")
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise TimeoutError(f"no answer within {seconds:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def parquet_rows(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of WandB's wide history export: a NULL cell means the key was not logged at that step."""
    table = pq.read_table(path)
    for batch in table.to_batches(max_chunksize=10_000):
        for row in batch.to_pylist():
            yield {key: value for key, value in row.items() if value is not None}
