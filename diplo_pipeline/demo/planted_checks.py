"""The asset checks a build of the demo data fails on purpose, each with the planted behaviour behind it.

`diplo demo` prints these after its build, so that a new user reads the build's `check failed` lines as
the demo's planted problems being found rather than as a broken install. The tests assert that the demo
build fails exactly these checks, so the list cannot drift from what a build says.
"""

from __future__ import annotations

from diplo_pipeline.demo.planted_episodes import CRASH, DEGRADED_HOUR, DIVERGENCE, EXTRACTION_DROP, RESUME
from diplo_pipeline.demo.planted_experiments import STANDALONE_EVAL
from diplo_pipeline.demo.run_catalogue import build_plan
from diplo_pipeline.lib.warehouse.thresholds import limit


def planted_check_failures() -> dict[str, str]:
    """Check name (as `diplo build` prints it) -> the planted behaviour that makes it fail."""
    runs = build_plan().runs  # names and planted values do not depend on the seed; only run ids do
    diverging, crashed, resumed = (runs[key].name for key in (DIVERGENCE.run_key, CRASH.run_key, RESUME.run_key))
    isolated = sum(len(run.isolated_failures) for run in runs.values())
    slowest = [run.dynamics.rollout_s for run in runs.values() if run.dynamics]
    fastest, longest = min(low for low, _ in slowest), max(high for _, high in slowest)
    return {
        "marts/health_hourly:error_rate_below_0_01":
            f"the degraded hour, {DEGRADED_HOUR.hour:%Y-%m-%d %H}:00 UTC: {DEGRADED_HOUR.failed_rollouts} "
            f"rollouts of {crashed} fail within it",
        "marts/run_steps:grad_norm_below_50":
            f"{diverging} diverges: grad norm {DIVERGENCE.grad_norm_spike:g} at step {DIVERGENCE.grad_norm_spike_step}",
        "marts/extraction_by_power:extraction_rate_above_0_95":
            f"the {EXTRACTION_DROP.power} extraction drop on {EXTRACTION_DROP.day}: {EXTRACTION_DROP.rate:.0%} of its "
            "orders extracted",
        "marts/rollouts:no_failed_rollouts":
            f"{DEGRADED_HOUR.failed_rollouts + isolated} failed rollouts: the degraded hour's "
            f"{DEGRADED_HOUR.failed_rollouts} and {isolated} isolated ones in other runs",
        "marts/health_hourly:no_empty_orders_alert":
            f"the {EXTRACTION_DROP.power} extraction drop on {EXTRACTION_DROP.day}: its empty orders come in bursts of "
            f"more than {limit('empty_orders_alert_count'):g} within {limit('empty_orders_alert_window_minutes'):g} "
            "minutes, the dashboards' alert",
        "marts/health_hourly:output_tps_at_least_50":
            f"the standalone evaluation of {runs['evaluation'].config['checkpoint_path']} runs its engine calls "
            "alone in its hour, 1 to 10 prompts each (about 7 output tokens/s a prompt), so that hour averages "
            f"under the {limit('output_tps_min'):g} tokens/s target ({STANDALONE_EVAL.duration_s:g} s of them)",
        "marts/rollout_timing:rollout_p50_below_60s":
            f"demo rollouts take {fastest:g}–{longest:g} s, so a day's median is above the "
            f"{limit('rollout_p50_max_s'):g} s target",
        "raw/wandb_runs:no_quarantined_wandb_records":
            f"{crashed} and the first process of {resumed} are killed like crashed trainers: a file that ends "
            "inside the record being written has that record set aside as lost",
        "marts/findings:no_error_findings":
            f"{diverging}'s KL blow-up (kl_high, kl_max_explosion) and {crashed}'s crash at step {CRASH.last_step} "
            "(run_crashed)",
    }
