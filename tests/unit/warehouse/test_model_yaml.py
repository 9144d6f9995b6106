"""The model YAML: it cannot drift from the SQL, its generic tests find planted rows, and Dagster shows it."""

import json

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from diplo_pipeline.lib.analytics.findings import FINDINGS_SCHEMA
from diplo_pipeline.lib.warehouse.catalog import RAW_SCHEMAS
from diplo_pipeline.lib.warehouse.catalog_status import plan_catalog
from diplo_pipeline.lib.warehouse.sql_project import Project, SqlModelError
from diplo_pipeline.lib.warehouse.sql_runner import (
    define_python_marts,
    define_relations,
    materialize,
    python_mart_path,
    run_test,
)
from diplo_pipeline.lib.warehouse.sql_tests import current_failures, good_path, record_outcome
from tests.unit.warehouse.sql_project_files import SCHEMAS, layer_yml, project_dir

STG = "-- materialized: view\nselect * from raw_things\n"
STAGED = {"staging/stg_things.sql": STG, "staging/_staging.yml": layer_yml(stg_things="id kind value")}
THINGS = "select id, kind, value from stg_things\n"


def test_a_documented_column_the_sql_does_not_output_names_the_yaml_and_the_model(tmp_path):
    root = project_dir(tmp_path, {"staging/stg_things.sql": STG,
                                  "staging/_staging.yml": layer_yml(stg_things="id kind value colour")})
    with pytest.raises(SqlModelError, match=r"staging/_staging\.yml: stg_things lists the columns \['colour'\], "
                                            r"which .*staging/stg_things\.sql does not output"):
        Project.load(root, SCHEMAS)


def test_an_output_column_the_yaml_does_not_list_names_the_model_and_the_yaml(tmp_path):
    root = project_dir(tmp_path, {"staging/stg_things.sql": STG, "staging/_staging.yml": layer_yml(stg_things="id")})
    with pytest.raises(SqlModelError, match=r"staging/stg_things\.sql: outputs the columns \['kind', 'value'\], "
                                            r"which .*staging/_staging\.yml does not list"):
        Project.load(root, SCHEMAS)


def test_a_model_without_an_entry_names_its_file_and_where_the_entry_goes(tmp_path):
    root = project_dir(tmp_path, {**STAGED, "marts/things.sql": THINGS})
    with pytest.raises(SqlModelError, match=r"marts/things\.sql: the model 'things' has no entry in marts/_marts\.yml"):
        Project.load(root, SCHEMAS)


def test_an_entry_without_a_model_is_refused(tmp_path):
    root = project_dir(tmp_path, {"staging/stg_things.sql": STG,
                                  "staging/_staging.yml": layer_yml(stg_things="id kind value", stg_gone="id")})
    with pytest.raises(SqlModelError, match=r"staging/_staging\.yml: 'stg_gone' is documented, but there is no "
                                            r"staging/stg_gone\.sql"):
        Project.load(root, SCHEMAS)


@pytest.mark.parametrize(("column", "message"), [
    ({"name": "kind", "description": "k", "data_tests": ["unique_ish"]},
     r"things\.kind: unknown data test 'unique_ish'"),
    ({"name": "kind", "description": "k", "data_tests": [{"accepted_values": {}}]},
     r"things\.kind: accepted_values needs `values"),
    ({"name": "kind", "description": "  "}, r"things\.kind: needs a description"),
    ({"name": "kind", "descripton": "typo"}, r"things\.kind: unknown keys \['descripton'\]"),
])
def test_a_malformed_entry_names_the_file_and_the_column(tmp_path, column, message):
    marts = yaml.safe_dump({"models": [{"name": "things", "description": "t", "columns": [
        {"name": "id", "description": "i"}, column, {"name": "value", "description": "v"}]}]})
    root = project_dir(tmp_path, {**STAGED, "marts/things.sql": THINGS, "marts/_marts.yml": marts})
    with pytest.raises(SqlModelError, match=r"marts/_marts\.yml: " + message):
        Project.load(root, SCHEMAS)


def test_a_column_given_by_name_takes_the_description_of_the_relation_it_is_read_from(tmp_path):
    marts = yaml.safe_dump({"models": [{"name": "things", "description": "t", "columns": [
        "id", "kind", {"name": "value", "description": "the value, in things"}]}]})
    root = project_dir(tmp_path, {**STAGED, "marts/things.sql": THINGS, "marts/_marts.yml": marts})
    doc = Project.load(root, SCHEMAS).docs["things"]
    assert doc.descriptions == {"id": "id of stg_things", "kind": "kind of stg_things", "value": "the value, in things"}
    assert [c.inherited_from for c in doc.columns] == ["stg_things", "stg_things", None]

    # A source documents no columns: a bare name read straight from it has nowhere to take its meaning from.
    (root / "staging" / "_staging.yml").write_text(yaml.safe_dump({"models": [
        {"name": "stg_things", "description": "s", "columns": ["id", "kind", "value"]}]}))
    with pytest.raises(SqlModelError, match=r"staging/_staging\.yml: stg_things\.id: needs a description: none of "
                                            r"the relations it reads \(no documented relation\)"):
        Project.load(root, SCHEMAS)


def _planted_project(tmp_path):
    """things: ids 1-5, one id written twice, one kind outside the accepted ones, one kind missing."""
    marts = yaml.safe_dump({"models": [{
        "name": "things", "description": "one row per id",
        "data_tests": [{"unique": {"columns": ["id", "value"]}}],
        "columns": [
            {"name": "id", "description": "the id", "data_tests": ["unique", "not_null"]},
            {"name": "kind", "description": "a or b",
             "data_tests": ["not_null", {"accepted_values": {"values": ["a", "b"]}}]},
            {"name": "value", "description": "a number"},
        ],
    }]})
    root = project_dir(tmp_path, {**STAGED, "marts/things.sql": THINGS, "marts/_marts.yml": marts})
    lake = tmp_path / "lake"
    (lake / "raw" / "things").mkdir(parents=True)
    rows = {"id": [1, 2, 2, 3, 4, 5], "kind": ["a", "b", "b", "c", None, "a"], "value": [1.0, 2.0, 2.5, 3.0, 4.0, 5.0]}
    pq.write_table(pa.table(rows, schema=SCHEMAS["raw_things"]), lake / "raw" / "things" / "part.parquet")
    return Project.load(root, SCHEMAS), lake


def test_planted_rows_fail_exactly_the_generated_tests_that_name_them(tmp_path):
    project, lake = _planted_project(tmp_path)
    assert project.tests_of("things") == ["unique_things_id__value", "unique_things_id", "not_null_things_id",
                                          "not_null_things_kind", "accepted_values_things_kind"]
    con = duckdb.connect()
    define_relations(con, project, lake, SCHEMAS, models=[])
    for name in project.order():
        materialize(con, project.models[name], lake)
    found = {test: run_test(con, project.tests[test]) for test in project.tests_of("things")}
    assert found == {
        "unique_things_id__value": (0, []),  # the two writes of id 2 differ in value: good rows beside it pass
        "unique_things_id": (1, [{"id": 2, "copies": 2}]),
        "not_null_things_id": (0, []),
        # Shown with the table's key (its first unique test), then the value tested.
        "not_null_things_kind": (1, [{"id": 4, "value": 4.0, "kind": None}]),
        "accepted_values_things_kind": (1, [{"id": 3, "value": 3.0, "kind": "c"}]),  # NULL passes (not_null's job)
    }
    # Recorded like a hand-written test's outcome: the catalog serves nothing of `things` and says which failed.
    for test, (count, first) in found.items():
        record_outcome(lake, project, test, count, first)
    assert [o.test for o in current_failures(lake, project, "things")] == [
        "unique_things_id", "not_null_things_kind", "accepted_values_things_kind"]
    status = plan_catalog(project, lake)["things"]
    assert (status.served, status.outcome.test, status.outcome.first_rows) == (
        "left_out", "unique_things_id", [{"id": 2, "copies": 2}])
    assert "no earlier version passed" in status.reason


def test_a_python_mart_that_fails_its_generic_test_is_served_at_its_last_good_version(tmp_path):
    project = Project.load()
    lake = tmp_path / "lake"
    path = python_mart_path(lake, "findings")
    path.parent.mkdir(parents=True)
    finding = {"run_id": "run00001", "run_name": "grpo-1", "rule": "kl_high", "severity": "warn", "step_start": 3,
               "step_end": 5, "value": 0.15, "threshold": 0.1, "message": "KL high", "hypothesis": "lower the LR"}

    def build(severity: str) -> list:
        pl.DataFrame([finding | {"severity": severity}], schema=FINDINGS_SCHEMA).write_parquet(path.with_suffix(".tmp"))
        path.with_suffix(".tmp").replace(path)  # a new file, as the asset writes it
        con = duckdb.connect()
        define_relations(con, project, lake, RAW_SCHEMAS, models=[])
        define_python_marts(con, lake)
        outcomes = [record_outcome(lake, project, test, *run_test(con, project.tests[test]))
                    for test in project.tests_of("findings")]
        con.close()
        return [(o.test, o.offending_rows) for o in outcomes if not o.passed]

    assert build("warn") == [] and good_path(lake, project, "findings").exists()
    assert build("fatal") == [("accepted_values_findings_severity", 1)]
    status = plan_catalog(project, lake)["findings"]
    assert (status.served, status.outcome.test) == ("last_good", "accepted_values_findings_severity")
    assert json.loads(status.row()["first_rows"]) == [finding | {"severity": "fatal"}]  # no key: the whole row
    assert status.path == good_path(lake, project, "findings")
    assert pl.read_parquet(status.path)["severity"].to_list() == ["warn"]


def test_the_dagster_assets_carry_the_yaml_and_every_data_test_is_a_blocking_check():
    from diplo_pipeline.defs.warehouse.data_tests import data_test_checks
    from diplo_pipeline.defs.warehouse.project import PROJECT
    from diplo_pipeline.defs.warehouse.sql_models import sql_model_assets

    specs = {spec.key.path[-1]: spec for asset in sql_model_assets for spec in asset.specs}
    assert set(specs) == set(PROJECT.models)
    for name, spec in specs.items():
        doc = PROJECT.docs[name]
        assert spec.description.startswith(doc.description)
        schema = spec.metadata["dagster/column_schema"]
        assert [(c.name, c.type) for c in schema.columns] == list(PROJECT.columns[name])
        assert [c.description for c in schema.columns] == [doc.descriptions[c.name] for c in schema.columns]
        assert all(c.description for c in schema.columns)
    run_steps = {c.name: c.description for c in specs["run_steps"].metadata["dagster/column_schema"].columns}
    assert run_steps["trajectories_per_s"].startswith("trajectories / rollout_time_s")
    runs = {c.name: c.description for c in specs["runs"].metadata["dagster/column_schema"].columns}
    assert runs["state"] == PROJECT.docs["stg_wandb__runs"].descriptions["state"]  # given by name: inherited

    # A SQL model's tests run in its own step (its check specs); a Python mart's as checks of their own.
    checks = {spec.name: spec for definition in [*sql_model_assets, *data_test_checks]
              for spec in definition.check_specs if spec.name in PROJECT.tests}
    assert set(checks) == set(PROJECT.tests)
    assert {spec.name for definition in data_test_checks for spec in definition.check_specs} == {
        test for test in PROJECT.tests if PROJECT.test_target(test) not in PROJECT.models}
    assert all(spec.blocking for spec in checks.values())
    assert checks["unique_run_steps_run_id__step"].asset_key.path == ["marts", "run_steps"]
    assert checks["accepted_values_findings_severity"].asset_key.path == ["marts", "findings"]


def test_the_bound_columns_are_kept_in_the_cache_and_an_edited_model_is_bound_again(tmp_path, monkeypatch):
    """Binding every model is half a second of every process that loads the definitions: an unchanged
    project reads its columns from the cache, and an edited one is bound again, so a drift still fails."""
    from diplo_pipeline.lib.warehouse import project_docs

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    root = project_dir(tmp_path, {**STAGED, "marts/things.sql": THINGS,
                                  "marts/_marts.yml": layer_yml(things="id kind value")})
    first = Project.load(root, SCHEMAS)
    assert len(list((tmp_path / "cache" / "diplo-pipeline").glob("model-columns-*.json"))) == 1
    bound = []
    real = project_docs._bind_output_columns
    monkeypatch.setattr(project_docs, "_bind_output_columns", lambda *a: bound.append(1) or real(*a))
    assert Project.load(root, SCHEMAS).columns == first.columns and bound == []  # from the cache
    (root / "marts" / "things.sql").write_text("select id, kind from stg_things\n")  # `value` dropped
    with pytest.raises(SqlModelError, match=r"things lists the columns \['value'\]"):
        Project.load(root, SCHEMAS)
    assert bound == [1]
