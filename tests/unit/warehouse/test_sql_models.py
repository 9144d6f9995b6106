"""The SQL runner: dependencies parsed from queries, errors that name file and line, data tests."""

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from diplo_pipeline.lib.warehouse.sql_project import SQL_ROOT, Project, SqlModelError
from diplo_pipeline.lib.warehouse.sql_runner import define_relations, materialize, run_test
from tests.unit.warehouse.sql_project_files import SCHEMAS, layer_yml, project_dir

STG_THINGS = {"staging/stg_things.sql": "-- materialized: view\nselect * from raw_things\n",
              "staging/_staging.yml": layer_yml(stg_things="id kind value")}


def test_the_real_project_loads_and_every_dependency_is_parsed():
    project = Project.load(SQL_ROOT)
    assert project.models["run_steps"].table_names == ["stg_wandb__metric_points"]
    assert set(project.models["rollouts"].table_names) == {"stg_axiom__events", "int_wandb__run_windows"}
    assert project.order().index("rollouts") > project.order().index("int_wandb__run_windows")


def test_a_connection_defines_what_its_sql_reads_through_views_only():
    """`Project.relations_read`: a table model is read from its own Parquet, so it brings nothing else in; a view
    model brings in what it reads, down to the sources (each one is a listing and a footer read)."""
    project = Project.load(SQL_ROOT)
    assert project.relations_read(["run_steps"]) == (["run_steps"], [])
    assert project.relations_read(["metric_points"]) == (
        ["stg_wandb__metric_points", "metric_points"], ["raw_wandb__metric_points"])
    models, sources = project.relations_read(["run_steps", "runs", "raw_sweeps__definitions", "findings"])
    assert "run_steps" in models and "stg_wandb__runs" in models and "int_wandb__run_windows" not in models
    assert sources == [s for s in project.sources if s in {"raw_wandb__runs", "raw_sweeps__definitions"}]
    assert "findings" not in models  # a Python mart: the caller defines it


def test_ctes_are_not_dependencies_and_lines_are_reported(tmp_path):
    root = project_dir(tmp_path, {
        **STG_THINGS,
        "marts/totals.sql": "with t as (\n    select * from stg_things\n)\nselect kind, sum(value) as total\n"
                            "from t\ngroup by kind\n",
        "marts/_marts.yml": layer_yml(totals="kind total"),
    })
    project = Project.load(root, SCHEMAS)
    assert project.models["totals"].refs == (("stg_things", 2),)
    assert project.models["stg_things"].materialized == "view"
    assert project.models["totals"].materialized == "table"


def test_syntax_error_names_the_file_and_line(tmp_path):
    root = project_dir(tmp_path, {"marts/broken.sql": "select id,\n  kind\nfrom raw_things\nwher id > 1\n"})
    with pytest.raises(SqlModelError, match=r"marts/broken\.sql:4: syntax error"):
        Project.load(root)


def test_unknown_table_names_the_file_and_line(tmp_path):
    root = project_dir(tmp_path, {"marts/lost.sql": "select *\nfrom raw_things\njoin nowhere using (id)\n"})
    with pytest.raises(SqlModelError, match=r"marts/lost\.sql:3: reads table 'nowhere'"):
        Project.load(root)


def test_cycles_are_refused(tmp_path):
    root = project_dir(tmp_path, {"marts/a.sql": "select * from b\n", "marts/b.sql": "select * from a\n"})
    with pytest.raises(SqlModelError, match="cycle"):
        Project.load(root)


def test_materialise_views_tables_and_run_data_tests(tmp_path):
    root = project_dir(tmp_path, {
        **STG_THINGS,
        "marts/totals.sql": "select kind, sum(value) as total from stg_things group by kind\n",
        "marts/_marts.yml": layer_yml(totals="kind total"),
        "tests/assert_totals_positive.sql": "select kind, total from totals where total <= 0\n",
    })
    lake = tmp_path / "lake"
    (lake / "raw" / "things").mkdir(parents=True)
    pq.write_table(pa.table({"id": [1, 2, 3], "kind": ["a", "a", "b"], "value": [1.0, 2.0, -5.0]},
                            schema=SCHEMAS["raw_things"]),
                   lake / "raw" / "things" / "part.parquet")
    project = Project.load(root, SCHEMAS)
    con = duckdb.connect()
    define_relations(con, project, lake, SCHEMAS, models=[])
    for name in project.order():
        assert materialize(con, project.models[name], lake) == {"stg_things": 3, "totals": 2}[name]
    assert (lake / "marts" / "totals.parquet").exists()
    assert not (lake / "staging" / "stg_things.parquet").exists()  # a view is never copied
    count, first = run_test(con, project.tests["assert_totals_positive"])
    assert count == 1 and first == [{"kind": "b", "total": -5.0}]


def test_a_model_that_fails_at_run_time_names_its_file(tmp_path):
    root = project_dir(tmp_path, {"marts/bad.sql": "select cast(kind as integer) as k from raw_things\n",
                                  "marts/_marts.yml": layer_yml(bad="k")})
    lake = tmp_path / "lake"
    (lake / "raw" / "things").mkdir(parents=True)
    pq.write_table(pa.table({"id": [1], "kind": ["x"], "value": [1.0]}, schema=SCHEMAS["raw_things"]),
                   lake / "raw" / "things" / "p.parquet")
    project = Project.load(root, SCHEMAS)
    con = duckdb.connect()
    define_relations(con, project, lake, SCHEMAS, models=[])
    with pytest.raises(SqlModelError, match=r"marts/bad\.sql: ConversionException"):
        materialize(con, project.models["bad"], lake)


def test_empty_sources_still_give_typed_relations(tmp_path):
    root = project_dir(tmp_path, {"marts/totals.sql": "select kind, count(*) as n from raw_things group by kind\n",
                                  "marts/_marts.yml": layer_yml(totals="kind n")})
    project = Project.load(root, SCHEMAS)
    con = duckdb.connect()
    define_relations(con, project, tmp_path / "empty-lake", SCHEMAS, models=[])
    assert materialize(con, project.models["totals"], tmp_path / "empty-lake") == 0
    assert [c[0] for c in con.execute("describe totals").fetchall()] == ["kind", "n"]


def test_views_over_unmaterialised_tables_are_skipped_not_fatal(tmp_path):
    root = project_dir(tmp_path, {
        "marts/totals.sql": "select kind, count(*) as n from raw_things group by kind\n",
        "marts/totals_view.sql": "-- materialized: view\nselect * from totals\n",
        "marts/_marts.yml": layer_yml(totals="kind n", totals_view="kind n"),
    })
    project = Project.load(root, SCHEMAS)
    con = duckdb.connect()
    skipped = define_relations(con, project, tmp_path / "lake", SCHEMAS)
    assert skipped == ["totals", "totals_view"]
