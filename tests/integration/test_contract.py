"""The public contract: every table and column WAREHOUSE.md promises is in the model YAML, and the built catalog
has exactly the YAML's columns.

The expected tables and columns are read from the YAML (`dbt_like_sql/<layer>/_<layer>.yml`), not kept here.
Separately, WAREHOUSE.md itself is parsed: each contract table is a paragraph opening with its bold name
(**`runs`**), and its columns are the backticked names of that paragraph outside parentheses (a parenthesis
holds values, formulas and examples), plus the key of "one row per (`run_id`, `step`)" and the plain-word
grain of "one row per hour". Every name found must be a YAML column of that table or one of its accepted
values, or be listed below as not a column, or as promised but not built yet.
"""

import os
import re
from pathlib import Path

import pytest

from diplo_pipeline.lib.warehouse.sql_project import Project

SPEC = Path(os.environ.get("DIPLO_WAREHOUSE_SPEC", "/work/shared/spec/WAREHOUSE.md"))
DOCS = Project.load().docs

_TABLE = re.compile(r"\*\*`([a-z_][a-z0-9_]*)`\*\*")
_NAME = re.compile(r"[a-z_][a-z0-9_]*")
# A grain in plain words, "one row per hour", names the table's key column.
_GRAIN = re.compile(r"one row per (run|sweep|hour|day)\b")
GRAIN_COLUMNS = {"run": "run_id", "sweep": "sweep_name", "hour": "hour", "day": "day"}

# Names the spec writes in backticks beside a table's columns that are not columns of it.
NOT_COLUMNS = {
    "elo_gap": {"base_model"},  # "a checkpoint and `base_model` rating": an agent
    "evaluations": {"overall_score"},  # "Plus `overall_score` rows": rows with opponent 'overall'
    "sweep_runs": {"sweep_run_started"},  # membership "Axiom `sweep_run_started` events": an event
    "rollout_timing": {"all"},  # "an `all` row per day": a horizon_type value
    "gpu_hourly": {"gpu_stats"},  # "from `gpu_stats`": the event the rows come from
    "run_baselines": {"elo_gap_50"},  # "steps to `elo_gap_50`": a target, named in the `target` column
}
# Promised by WAREHOUSE.md, not built yet: the YAML must not list them (building one means moving it there,
# out of this list). None: the whole table.
NOT_BUILT: dict[str, set[str] | None] = {}


def _outside_parentheses(prose: str) -> list[str]:
    """Backticked spans outside parentheses, and inside the one that follows "one row per". "(−20, −5]" is an
    interval: `]` closes a parenthesis too. `a`/`_b` is shorthand for `a` and a_b's sibling with that suffix."""
    found: list[str] = []
    depth, keep, text = 0, False, ""  # text: the prose between the previous backticked span and this one
    for part in re.split(r"(`[^`]+`)", prose):
        if part.startswith("`") and part.endswith("`"):
            name = part[1:-1]
            if name.startswith("_") and found and text.endswith("/"):  # `final_elo_gap_ci_low`/`_high`
                name = found[-1][: found[-1].rfind("_")] + name
            if depth == 0 or keep:
                found.append(name)
            continue
        text = part
        for i, char in enumerate(part):
            if char == "(":
                if depth == 0:
                    keep = part[:i].rstrip().endswith("one row per")
                depth += 1
            elif char in ")]" and depth:
                depth -= 1
    return found


def spec_tables() -> dict[str, set[str]]:
    """WAREHOUSE.md's contract tables with the names their paragraphs give as columns."""
    if not SPEC.exists():
        pytest.fail(f"the warehouse contract is not at {SPEC}: set DIPLO_WAREHOUSE_SPEC to its path")
    tables: dict[str, set[str]] = {}
    for paragraph in re.split(r"\n\s*\n", SPEC.read_text()):
        opening = _TABLE.match(paragraph.strip())
        if not opening:
            continue
        prose = paragraph.strip()[opening.end():]
        names = {n for n in _outside_parentheses(prose) if _NAME.fullmatch(n)}
        names |= {GRAIN_COLUMNS[word] for word in _GRAIN.findall(prose)}
        tables[opening.group(1)] = names
    return tables


def _accepted_values(table: str) -> set[str]:
    return {str(v) for test in DOCS[table].tests if test.kind == "accepted_values" for v in test.values}


def test_the_spec_parses_into_its_tables_and_their_columns():
    tables = spec_tables()
    assert len(tables) >= 24 and all(tables.values())
    # What the parse must find and must leave out, on paragraphs that try it: a key in "one row per (...)",
    # values in parentheses, an interval, a plain-word grain, the `a`/`_b` shorthand.
    assert {"run_id", "state", "tags", "source_path"} <= tables["runs"] and "crashed" not in tables["runs"]
    assert {"run_id", "step", "elo_gap_ci_high"} <= tables["elo_gap"] and "sigma" not in tables["elo_gap"]
    assert {"trend", "near_peak"} <= tables["elo_agent_summary"] and "base_model" not in tables["elo_agent_summary"]
    assert {"hour", "samples"} <= tables["cache_stats"] and {"run_id"} <= tables["run_learning"]
    assert "final_elo_gap_ci_high" in tables["sweep_runs"] and "_high" not in tables["sweep_runs"]


def test_every_table_and_column_the_spec_names_is_in_the_yaml():
    tables = spec_tables()
    missing, stale = [], []
    for table, names in sorted(tables.items()):
        if table in NOT_BUILT and NOT_BUILT[table] is None:
            assert table not in DOCS, f"{table} is built now: take it out of NOT_BUILT"
            continue
        assert table in DOCS and DOCS[table].layer == "marts", f"WAREHOUSE.md's {table} is not in marts/_marts.yml"
        columns = set(DOCS[table].column_names)
        not_built = NOT_BUILT.get(table) or set()
        assert not (not_built & columns), f"{table}: {sorted(not_built & columns)} are built now: update NOT_BUILT"
        allowed = columns | _accepted_values(table) | NOT_COLUMNS.get(table, set()) | not_built
        missing += [f"{table}.{name}" for name in sorted(names - allowed)]
        stale += [f"{table}.{name}" for name in sorted((NOT_COLUMNS.get(table, set()) | not_built) - names)]
        assert all(DOCS[table].descriptions.values()), f"{table}: a column without its meaning"
    assert not missing, f"WAREHOUSE.md names columns the YAML does not list: {missing}"
    assert not stale, f"NOT_COLUMNS/NOT_BUILT list names WAREHOUSE.md no longer gives: {stale}"
    assert set(NOT_COLUMNS) | set(NOT_BUILT) <= set(tables)


@pytest.mark.parametrize("table", sorted(DOCS))
def test_the_catalog_has_exactly_the_yaml_columns(demo_catalog, table):
    columns = [row[0] for row in demo_catalog["con"].execute(f"describe {table}").fetchall()]
    documented = DOCS[table].column_names
    assert sorted(columns) == sorted(documented), (
        f"{table}: the catalog lacks {sorted(set(documented) - set(columns))}, "
        f"and has undocumented {sorted(set(columns) - set(documented))}")


@pytest.mark.parametrize("table", sorted(set(spec_tables()) - {t for t, c in NOT_BUILT.items() if c is None}))
def test_every_contract_table_has_rows_in_the_demo(demo_catalog, table):
    assert demo_catalog["con"].execute(f"select count(*) from {table}").fetchone()[0] > 0


def test_timestamps_are_timestamptz(demo_catalog):
    types = dict(demo_catalog["con"].execute("select column_name, data_type from information_schema.columns "
                                              "where table_name = 'runs'").fetchall())
    assert types["created_at"] == "TIMESTAMP WITH TIME ZONE" and types["tags"] == "VARCHAR[]"
