-- materialized: view
-- run_tables: every row of every W&B Table a run logged (WAREHOUSE.md), typed columns first, the whole row as
-- JSON for tables of other shapes.
select
    run_id,
    key,
    step,
    row_index,
    checkpoint,
    opponent,
    games,
    games_played,
    win_rate,
    survival_rate,
    avg_centers,
    row,
    table_path,
    wandb_step,
    segment
from stg_wandb__tables
