"""Materialisation metadata shared by the assets that write their own Parquet."""

import dagster as dg

from diplo_pipeline.lib.previews import arrow_columns


def column_schema(schema) -> dg.TableSchema:
    """An Arrow schema as the column schema the Dagster UI shows."""
    return dg.TableSchema(columns=[dg.TableColumn(name, kind) for name, kind in arrow_columns(schema)])
