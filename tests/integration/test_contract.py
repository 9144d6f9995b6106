"""The public contract: every table and column WAREHOUSE.md promises exists in the built catalog."""

import pytest

CONTRACT = {
    "runs": "run_id run_name project entity state created_at finished_at runtime_s tags run_kind sweep_name "
            "sweep_run_letter base_model_id lora_rank learning_rate kl_beta loss_type total_steps "
            "num_groups_per_step samples_per_group rollout_horizon_years last_step steps_logged config summary "
            "source source_path",
    "metric_points": "run_id step wandb_step timestamp runtime_s key value value_text",
    "run_steps": "run_id step timestamp loss kl kl_max kl_beta reward_mean reward_std grad_norm rollout_time_s "
                 "training_time_s pipeline_overlap_s trajectories extraction_rate orders_expected orders_extracted "
                 "empty_responses partial_responses rollout_failed_count rollout_max_volume_reload_s "
                 "rollout_max_total_s cumulative_simulated_years simulated_years_per_step avg_sc_count "
                 "win_bonus_rate clip_fraction entropy_mean skip_rate cache_hit_rate league_num_checkpoints "
                 "trajectories_per_s sim_years_per_s train_rollout_ratio",
    "elo_ratings": "run_id step agent agent_kind checkpoint_step elo trueskill_mu trueskill_sigma scale",
    "elo_agent_summary": "run_id agent agent_kind seed_elo initial_elo peak_elo peak_step final_elo final_step "
                         "change games_steps trend",
    "elo_gap": "run_id step best_checkpoint best_checkpoint_elo base_model_elo elo_gap elo_gap_ci_low "
               "elo_gap_ci_high baseline_exploitation",
    "run_learning": "run_id best_checkpoint best_checkpoint_peak_elo final_elo_gap max_elo_gap "
                    "final_elo_gap_ci_low final_elo_gap_ci_high baseline_exploitation checkpoints "
                    "checkpoints_declining learning_signal base_model_trend",
    "evaluations": "run_id source_run_name checkpoint checkpoint_step evaluation_step kind opponent games win_rate "
                   "survival_rate avg_centers avg_score floor passed",
    "sweep_runs": "sweep_name sweep_run_letter run_id run_name state varying_params steps final_elo_gap "
                  "max_elo_gap final_base_model_elo reward_mean_last10 kl_mean_avg kl_max_max grad_norm_max "
                  "win_bonus_rate_last10 rank_by_elo_gap is_winner unstable",
    "sweeps": "sweep_name runs runs_finished winner_run_name winner_elo_gap runner_up_run_name margin verdict "
              "hypothesis expected_ranking_met",
    "power_law_fits": "scope scope_id x_metric metric model params exponent exponent_ci_low exponent_ci_high r2 "
                      "n_points x_decades converged holdout_log_error flags",
    "axiom_events": "event_time event service rollout_id run_name payload",
    "rollouts": "rollout_id started_at completed_at horizon_type horizon_years warmup_phases trajectories "
                "duration_s status error extraction_rate run_name attribution",
    "rollout_timing": "day horizon_type rollouts avg_s p50_s p95_s max_s trajectories trajectories_per_hour",
    "extraction_by_power": "day power_name responses full partial empty no_orders_needed orders_expected "
                           "orders_extracted extraction_rate response_success_rate",
    "inference_stats": "hour adapter_kind requests avg_batch_size avg_generation_time_s avg_adapter_load_time_s "
                       "p95_total_time_s avg_output_tps avg_input_tps tokens_generated",
    "cache_stats": "hour samples queries hits hit_rate prompt_tokens tokens_saved_est",
    "health_hourly": "hour events error_events error_rate rollouts_started rollouts_completed rollouts_failed "
                     "completion_rate avg_inference_ms status",
    "gpu_hourly": "run_name hour samples avg_gpu_utilization p95_gpu_utilization avg_memory_utilization "
                  "max_memory_used_gb memory_total_gb",
    "findings": "run_id run_name rule severity step_start step_end value threshold message hypothesis",
}


@pytest.mark.parametrize("table", sorted(CONTRACT))
def test_table_has_its_contract_columns(demo_catalog, table):
    columns = {row[0] for row in demo_catalog["con"].execute(f"describe {table}").fetchall()}
    missing = set(CONTRACT[table].split()) - columns
    assert not missing, f"{table} lacks {sorted(missing)}"
    assert demo_catalog["con"].execute(f"select count(*) from {table}").fetchone()[0] > 0


def test_timestamps_are_timestamptz(demo_catalog):
    types = dict(demo_catalog["con"].execute("select column_name, data_type from information_schema.columns "
                                              "where table_name = 'runs'").fetchall())
    assert types["created_at"] == "TIMESTAMP WITH TIME ZONE" and types["tags"] == "VARCHAR[]"
