"""Where the SQL project lives (`dbt_like_sql/`), in a module of its own: the CLI finds its analyses here
without importing the project loader (lib/warehouse/sql_project.py, with YAML and DuckDB's parser)."""

from pathlib import Path

SQL_ROOT = Path(__file__).resolve().parents[3] / "dbt_like_sql"
