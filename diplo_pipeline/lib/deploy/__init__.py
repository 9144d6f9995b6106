"""How diplo-pipeline is deployed: the Dagster instance's configuration (plain text, no Dagster import)."""
