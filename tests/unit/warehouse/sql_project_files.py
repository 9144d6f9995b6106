"""A small SQL project in a temporary folder, the way dbt_like_sql/ lays one out, for the warehouse tests."""

from pathlib import Path

import pyarrow as pa
import yaml

SOURCES = """
sources:
  raw_things:
    path: raw/things/*.parquet
    asset: raw/things
    description: things
"""
SCHEMAS = {"raw_things": pa.schema([("id", pa.int64()), ("kind", pa.string()), ("value", pa.float64())])}


def layer_yml(**models: str) -> str:
    """A layer's model YAML documenting each model's columns, given as "a b c"."""
    return yaml.safe_dump({"models": [
        {"name": name, "description": f"the {name} model",
         "columns": [{"name": column, "description": f"{column} of {name}"} for column in columns.split()]}
        for name, columns in models.items()
    ]})


def project_dir(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "sql"
    for layer in ("staging", "intermediate", "marts", "tests"):
        (root / layer).mkdir(parents=True)
    (root / "sources.yml").write_text(SOURCES)
    for name, sql in files.items():
        (root / name).write_text(sql)
    return root
