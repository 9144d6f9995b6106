"""Altair chart builders for the reports, by what they draw.

`common` holds what they share (sizes and colours, the spike-keeping downsampler, the chart data, the
reference line at a thresholds.yml limit, `chart_spec`); `training` a run's step curves, `league` ratings
and power-law fits, `gaps` the Elo gap with its band (a run's, a sweep's), `pipeline` rollouts, hourly cache
and health, `sweeps` a sweep's runs side by side. The pages call them as `charts.<builder>`.
"""

from diplo_pipeline.lib.reports.charts.common import (
    chart_spec,
    downsample,
    downsample_by,
    extreme_indices,
    limit_line,
)
from diplo_pipeline.lib.reports.charts.gaps import elo_gap_chart, sweep_elo_gap_chart
from diplo_pipeline.lib.reports.charts.league import fit_curve, power_law_chart, ratings_chart
from diplo_pipeline.lib.reports.charts.pipeline import (
    failed_rollouts_chart,
    health_chart,
    hourly_cache_hit_chart,
    rollout_status_chart,
)
from diplo_pipeline.lib.reports.charts.sweeps import sweep_metric_chart, sweep_ranking_chart
from diplo_pipeline.lib.reports.charts.training import (
    cache_hit_chart,
    extraction_chart,
    grad_norm_chart,
    kl_chart,
    loss_chart,
    reward_chart,
    throughput_chart,
)

__all__ = [
    "cache_hit_chart",
    "chart_spec",
    "downsample",
    "downsample_by",
    "elo_gap_chart",
    "extraction_chart",
    "extreme_indices",
    "failed_rollouts_chart",
    "fit_curve",
    "grad_norm_chart",
    "health_chart",
    "hourly_cache_hit_chart",
    "kl_chart",
    "limit_line",
    "loss_chart",
    "power_law_chart",
    "ratings_chart",
    "reward_chart",
    "rollout_status_chart",
    "sweep_elo_gap_chart",
    "sweep_metric_chart",
    "sweep_ranking_chart",
    "throughput_chart",
]
