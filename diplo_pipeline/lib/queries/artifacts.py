"""`diplo artifacts RUN` (what `wandb_cli.py get-artifacts` answered) and the artifact sections of `diplo run`."""

from __future__ import annotations

import duckdb

from diplo_pipeline.lib.queries.core import Answer, RunRef, fetch, has_table

ARTIFACT_TABLES = ("run_artifacts", "run_tables", "run_replays")


def _present(con: duckdb.DuckDBPyConnection) -> bool:
    """A catalog published before these tables existed has none of them: the run then shows none."""
    return all(has_table(con, name) for name in ARTIFACT_TABLES)


def artifact_sections(con: duckdb.DuckDBPyConnection, run: RunRef, artifact_type: str | None = None) -> dict:
    """The run's artifacts (with their files and where they are on disk), its logged tables and its replays."""
    if not _present(con):
        return {"artifacts": [], "tables": [], "replays": []}
    params = {"run_id": run.run_id}
    return {
        "artifacts": fetch(con, "cli/run_artifacts", {**params, "type": artifact_type}),
        "tables": fetch(con, "cli/run_tables", params),
        "replays": fetch(con, "cli/run_replays", params),
    }


def run_artifacts(con: duckdb.DuckDBPyConnection, run: RunRef, artifact_type: str | None = None) -> Answer:
    """Every artifact the run logged or used, its logged W&B Tables and its replays; CSV holds the artifacts."""
    sections = artifact_sections(con, run, artifact_type)
    data = {"run_id": run.run_id, "run_name": run.run_name, **sections}
    return Answer(data, sections["artifacts"], columns=None if sections["artifacts"] else _ARTIFACT_COLUMNS)


_ARTIFACT_COLUMNS = ["direction", "name", "type", "version_or_digest", "version", "digest", "aliases", "size_bytes",
                     "file_count", "files", "local_path", "file_local_paths", "is_replay", "created_at"]
