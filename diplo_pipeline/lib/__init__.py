"""Plain Python for diplo-pipeline: readers, writers and analyses, with no Dagster imports."""
