"""Artifacts, logged W&B Tables and replays: a run written by the real SDK offline, read from its folder and
through the live API (the loopback server), and what the warehouse makes of it (run_artifacts, run_tables,
run_replays, evaluations). The planted truth is in tests/helpers/sdk_runs.py (EVAL_*)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from diplo_pipeline.demo.sdk import run_in_subprocess
from diplo_pipeline.lib.lake.quarantine import count_quarantined, sample_quarantined
from diplo_pipeline.lib.settings import DataPaths
from diplo_pipeline.lib.wandb import api_sync, offline
from diplo_pipeline.lib.wandb.api_client import WandbApiSource
from diplo_pipeline.lib.wandb.api_settings import WandbApiSettings
from diplo_pipeline.lib.wandb.run_tables import discover_runs
from diplo_pipeline.lib.warehouse.catalog import RAW_SCHEMAS
from diplo_pipeline.lib.warehouse.sql_project import Project
from diplo_pipeline.lib.warehouse.sql_runner import define_relations, materialize
from tests.helpers import sdk_runs
from tests.helpers.loopback.wandb_server import FakeWandb, runs_from_offline

pytestmark = pytest.mark.slow  # writes SDK runs; tests/conftest.py schedules slow modules first

RUN = "evalart1"
KEY = "feedc0ffee" * 4
TYPED = ["key", "row_index", "checkpoint", "opponent", "games", "games_played", "win_rate", "survival_rate",
         "avg_centers"]


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sdk")
    run_in_subprocess(sdk_runs.evaluation_run_with_artifacts, str(root), RUN)
    return root


def ingest(root: Path, data: Path) -> DataPaths:
    paths = DataPaths.from_env(data)
    for run in discover_runs([root]).values():
        offline.ingest_run(paths, run, now=time.time() + 10_000)
    return paths


def raw(paths: DataPaths, table: str) -> list[dict]:
    return pq.read_table(paths.raw / "wandb" / table / f"{RUN}.parquet").to_pylist()


def planted_table_rows() -> list[tuple]:
    summary = [("eval/summary_table", i, None, opp, games, None, win, surv, centers)
               for i, (opp, games, win, surv, centers) in enumerate(sdk_runs.EVAL_SUMMARY_TABLE)]
    results = [("eval/results_table", i, ckpt, opp, None, games, win, surv, centers)
               for i, (ckpt, opp, win, surv, centers, games) in enumerate(sdk_runs.EVAL_RESULTS_TABLE)]
    return sorted(summary + results)


def typed_rows(rows: list[dict]) -> list[tuple]:
    return sorted(tuple(r[c] for c in TYPED) for r in rows)


def test_offline_folder_gives_the_artifacts_tables_and_replays_the_sdk_wrote(written, tmp_path):
    paths = ingest(written, tmp_path / "data")

    artifacts = {a["name"]: a for a in raw(paths, "artifacts")}
    replays = artifacts.pop("eval-replays-adapter_v50")
    assert (replays["direction"], replays["type"], replays["version"], replays["source"]) == (
        "logged", "evaluation-replays", None, "offline")  # offline: the server has not numbered it yet
    assert len(replays["digest"]) == 32 and replays["aliases"] == ["adapter_v50", "latest"]
    assert sorted(replays["files"]) == sorted(sdk_runs.EVAL_REPLAYS) and replays["file_count"] == 2
    assert replays["size_bytes"] == sum(len(t) for t in sdk_runs.EVAL_REPLAYS.values())
    assert replays["metadata"] == '{"games":2}'
    # Each file is on disk where the row says (the SDK's staging copy), with the content logged.
    on_disk = {name: Path(p).read_text() for name, p in zip(replays["files"], replays["file_local_paths"],
                                                            strict=True)}
    assert on_disk == sdk_runs.EVAL_REPLAYS
    assert all(Path(p).parent == Path(replays["local_path"]) for p in replays["file_local_paths"])
    # One run_table artifact per logged table.
    assert sorted((a["type"], a["files"][0]) for a in artifacts.values()) == [
        ("run_table", "eval/results_table.table.json"), ("run_table", "eval/summary_table.table.json")]

    tables = raw(paths, "tables")
    assert typed_rows(tables) == planted_table_rows()
    assert {r["step"] for r in tables} == {1}
    assert all(r["table_path"].startswith("media/table/eval/") for r in tables)

    media = {m["key"]: m for m in raw(paths, "media")}
    assert sorted(media) == ["eval/replay_vs_chaos", "eval/replay_vs_random", "eval/results_table",
                             "eval/summary_table"]
    html = media["eval/replay_vs_random"]
    # The SDK wraps the page in its own <head>; the body is what was logged.
    assert html["media_type"] == "html-file" and "<body>random game</body>" in Path(html["local_path"]).read_text()
    assert count_quarantined(paths.quarantine, "wandb")[0] == 0  # a healthy run sets nothing aside


@pytest.fixture(scope="module")
def warehouse(written, tmp_path_factory):
    """The SQL models that read the new tables, computed over the ingested run."""
    paths = ingest(written, tmp_path_factory.mktemp("wh") / "data")
    project = Project.load()
    con = duckdb.connect()
    define_relations(con, project, paths.lake, RAW_SCHEMAS, models=[])
    wanted = ("evaluations", "run_replays", "run_tables", "run_artifacts")
    for name in project.order():
        if name in wanted or any(name in project.upstream(w) for w in wanted):
            materialize(con, project.models[name], paths.lake)
    return con


def test_evaluations_take_the_tables_and_count_each_evaluation_once(warehouse):
    got = warehouse.execute("""
        select checkpoint, opponent, games, win_rate, survival_rate, avg_centers, logged_as
        from evaluations where run_id = $r and kind = 'standalone' order by checkpoint, opponent""",
                            {"r": RUN}).fetchall()
    ckpt = sdk_runs.EVAL_CHECKPOINT
    expected = [(ckpt, opp, games, win, surv, centers, "table")  # random and chaos: the table, not the scalars
                for opp, games, win, surv, centers in sdk_runs.EVAL_SUMMARY_TABLE]
    expected.append((ckpt, "territorial", 20, *sdk_runs.EVAL_SCALARS["territorial"], "scalars"))  # scalars only:
    # its games from the config's games_per_opponent. The results table adds adapter_v10; its adapter_v50 vs
    # random is the summary table's evaluation again, counted once.
    c, opp, win, surv, centers, games = sdk_runs.EVAL_RESULTS_TABLE[0]
    expected.append((c, opp, games, win, surv, centers, "table"))
    assert got == sorted(expected)
    dupes = warehouse.execute("select kind, evaluation_step, opponent from evaluations where run_id = $r "
                              "group by all having count(*) > 1", {"r": RUN}).fetchall()
    assert dupes == []


def test_replays_are_listed_with_their_local_paths(warehouse):
    rows = warehouse.execute("""select replay_source, replay_name, opponent, file_path, local_path
                                from run_replays where run_id = $r order by all""", {"r": RUN}).fetchall()
    assert [(s, n, o, Path(f).name.split("_1_")[0] if s == "html" else f) for s, n, o, f, _ in rows] == [
        ("artifact", "eval-replays-adapter_v50", None, "game_chaos.html"),
        ("artifact", "eval-replays-adapter_v50", None, "game_random.html"),
        ("html", "eval/replay_vs_chaos", "chaos", "replay_vs_chaos"),
        ("html", "eval/replay_vs_random", "random", "replay_vs_random"),
    ]
    assert all(Path(local).is_file() for *_, local in rows)
    flags = dict(warehouse.execute("select name, is_replay from run_artifacts where run_id = $r", {"r": RUN})
                 .fetchall())
    assert flags["eval-replays-adapter_v50"] and not any(v for k, v in flags.items() if k.startswith("run-"))


@pytest.mark.parametrize("damage", ["truncate", "not_a_table"])
def test_a_damaged_table_file_is_quarantined_and_the_rest_goes_in(written, tmp_path, damage):
    copy = tmp_path / "copy"
    shutil.copytree(written, copy, symlinks=True)
    target = next(copy.rglob("files/media/table/eval/results_table_*.table.json"))
    text = target.read_bytes()
    target.write_bytes(text[: len(text) // 2] if damage == "truncate" else b'{"rows": [1, 2]}')

    paths = ingest(copy, tmp_path / "data")

    tables = raw(paths, "tables")
    assert typed_rows(tables) == [r for r in planted_table_rows() if r[0] == "eval/summary_table"]
    assert len(raw(paths, "artifacts")) == 3 and len(raw(paths, "metric_points")) > 0
    count, _ = count_quarantined(paths.quarantine, "wandb")
    assert count == 1
    (item,) = sample_quarantined(paths.quarantine, "wandb")
    why = "is not valid JSON" if damage == "truncate" else "is not a W&B Table"
    assert why in item["reason"] and "'eval/results_table'" in item["reason"] and "build again" in item["reason"]


def test_a_table_row_of_the_wrong_width_is_set_aside_alone(written, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(written, copy, symlinks=True)
    target = next(copy.rglob("files/media/table/eval/summary_table_*.table.json"))
    target.write_text('{"columns": ["opponent", "games", "win_rate", "survival_rate", "avg_centers"], '
                      '"data": [["random", 20, 0.5, 0.9, 6.5], ["chaos", 20], ["x", "many", 0.1, 0.2, 0.3]]}')
    paths = ingest(copy, tmp_path / "data")
    summary = [r for r in raw(paths, "tables") if r["key"] == "eval/summary_table"]
    assert [(r["row_index"], r["opponent"], r["games"]) for r in summary] == [(0, "random", 20), (2, "x", None)]
    reasons = [i["reason"] for i in sample_quarantined(paths.quarantine, "wandb")]
    assert len(reasons) == 2 and "2 cells for 5 columns" in reasons[0] and "'games' of row 2" in reasons[1]


@pytest.fixture
def wandb_env(tmp_path, monkeypatch):
    for name in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"):
        folder = tmp_path / name.lower()
        folder.mkdir()
        monkeypatch.setenv(name, str(folder))
    monkeypatch.delenv("WANDB_API_KEY", raising=False)


def test_the_live_api_gives_the_same_tables_and_numbered_artifacts(written, wandb_env, tmp_path):
    offline_paths = ingest(written, tmp_path / "offline")
    with FakeWandb(KEY) as cloud:
        for run in runs_from_offline([written]):
            cloud.put(run)
        settings = WandbApiSettings(entity=cloud.entity, project=cloud.project, base_url=cloud.url)
        live = DataPaths.from_env(tmp_path / "live")
        results = api_sync.sync(WandbApiSource(KEY, settings, wait_base_s=0.1), live, tmp_path)
        ops = cloud.operations()

    assert results[RUN].quarantined == 0
    assert typed_rows(raw(live, "tables")) == typed_rows(raw(offline_paths, "tables")) == planted_table_rows()
    got = {(a["direction"], a["name"], a["type"], a["version"], tuple(a["aliases"]), tuple(sorted(a["files"])),
            a["size_bytes"] if a["type"] != "run_table" else None, a["source"]) for a in raw(live, "artifacts")}
    offline_names = {a["name"] for a in raw(offline_paths, "artifacts")}
    assert {g[1] for g in got} == offline_names
    assert ("logged", "eval-replays-adapter_v50", "evaluation-replays", "v0", ("adapter_v50", "latest"),
            tuple(sorted(sdk_runs.EVAL_REPLAYS)), sum(len(t) for t in sdk_runs.EVAL_REPLAYS.values()), "api") in got
    assert all(a["created_at"] is not None and a["local_path"] is None for a in raw(live, "artifacts"))
    # What the SDK asked: the run's outputs and inputs once, each artifact's files, each table file once.
    assert (ops["RunOutputArtifacts"], ops["RunInputArtifacts"], ops["ArtifactMembershipFiles"]) == (1, 1, 3)
    assert ops["RunFiles"] == 2 and ops["RUNFILE"] == 2
    assert {m["key"] for m in raw(live, "media")} == {m["key"] for m in raw(offline_paths, "media")}


@pytest.mark.parametrize(("written_name", "name", "version", "aliases"), [
    ("diplo-lab/diplomacy-grpo/base-model:v3", "base-model", "v3", []),
    ("base-model:best", "base-model", None, ["best"]),
    ("base-model", "base-model", None, []),
])
def test_a_used_artifact_record_names_its_version_or_alias(written_name, name, version, aliases):
    """`UseArtifactRecord`s (the SDK writes none offline: it refuses use_artifact there) as a writer may name them."""
    from wandb.proto import wandb_internal_pb2 as pb

    from diplo_pipeline.lib.wandb.artifacts import artifacts_table, used_artifact

    record = pb.UseArtifactRecord(id="QXJ0aWZhY3Q6MQ==", type="model", name=written_name)
    (row,) = artifacts_table("r1", [used_artifact(record)], "offline").to_pylist()
    assert (row["direction"], row["name"], row["type"], row["version"], row["aliases"], row["files"]) == (
        "used", name, "model", version, aliases, [])
    assert row["file_count"] is None and row["local_path"] is None


def test_an_artifact_logged_twice_is_one_row_and_a_reference_keeps_its_uri():
    from wandb.proto import wandb_internal_pb2 as pb

    from diplo_pipeline.lib.wandb.artifacts import artifacts_table, logged_artifact

    record = pb.ArtifactRecord(name="game-replay-v50-vs-chaos", type="visualization", digest="d" * 32,
                               aliases=["latest"])
    record.manifest.contents.add(path="game.html", size=7, ref="s3://bucket/game.html")
    rows = artifacts_table("r1", [logged_artifact(record), logged_artifact(record)], "offline").to_pylist()
    assert len(rows) == 1
    assert (rows[0]["files"], rows[0]["size_bytes"], rows[0]["file_local_paths"]) == (["game.html"], 7, [None])
