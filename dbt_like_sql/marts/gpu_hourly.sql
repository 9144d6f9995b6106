-- gpu_hourly: trainer GPU use per run and hour, from gpu_stats (context = train_grpo_benchmark:<run>).
-- Averages add the samples in event_id order, so every build gets the same last digits.
-- Utilisation is logged in percent and reported here as a fraction; memory in GiB (an H100 shows ~80).
-- The trainer flushes these only at exit, so a killed run has none.
select
    run_name,
    event_hour as hour,
    count(*) as samples,
    avg(gpu_utilization order by event_id) / 100 as avg_gpu_utilization,
    quantile_cont(gpu_utilization, 0.95) / 100 as p95_gpu_utilization,
    avg(memory_utilization order by event_id) / 100 as avg_memory_utilization,
    max(memory_used) / 1024.0 ^ 3 as max_memory_used_gb,
    max(memory_total) / 1024.0 ^ 3 as memory_total_gb
from stg_axiom__events
where event = 'gpu_stats' and run_name is not null
group by run_name, event_hour
order by run_name, hour
