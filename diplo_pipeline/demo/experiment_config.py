"""The training system's ExperimentConfig, as the trainer puts it into the WandB config (source-data.md §1.3)."""

from __future__ import annotations

from typing import Any

EXPERIMENT_CONFIG_DEFAULTS: dict[str, Any] = {
    "run_name": "diplomacy-grpo-v1",
    "seed": 42,
    "experiment_tag": None,
    "wandb_project": "diplomacy-grpo",
    "git_branch": None,
    "git_commit": None,
    "loss_type": "grpo",
    "min_reward_variance": 0.0,
    "base_model_id": "Qwen/Qwen2.5-7B-Instruct",
    "lora_rank": 32,
    "lora_alpha": None,
    "lora_target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "lora_dropout": 0.05,
    "rollout_horizon_years": 4,
    "rollout_long_horizon_years": 6,
    "rollout_long_horizon_chance": 0.2,
    "rollout_visualize_chance": 0.0,
    "trajectory_sample_rate": 0.01,
    "rollout_no_warmup_chance": 0.2,
    "win_bonus": 50.0,
    "winner_threshold_sc": 5,
    "solo_victory_sc": 18,
    "use_position_based_scoring": True,
    "position_bonus_1st": 50.0,
    "position_bonus_2nd": 25.0,
    "position_bonus_3rd": 15.0,
    "position_bonus_4th": 10.0,
    "position_bonus_5th": 5.0,
    "position_bonus_6th": 2.0,
    "position_bonus_7th": 0.0,
    "elimination_penalty": -30.0,
    "step_reward_weight": 0.8,
    "final_reward_weight": 0.2,
    "step_dislodgment_weight": 0.5,
    "step_territory_weight": 0.2,
    "step_threat_weight": 0.3,
    "step_forward_weight": 0.1,
    "reward_discount_gamma": 0.0,
    "use_trajectory_level_rewards": False,
    "use_state_stratified_groups": False,
    "state_bucket_sc_thresholds": [3, 5],
    "state_bucket_year_thresholds": [1902, 1905],
    "use_elo_conditioned_rewards": False,
    "elo_conditioning_scale": 0.5,
    "elo_baseline": 1500.0,
    "leader_gap_penalty_weight": 0.3,
    "balance_bonus_weight": 0.2,
    "leader_gap_threshold": 3,
    "use_strategic_step_scoring": False,
    "league_training": True,
    "league_registry_path": None,
    "league_inherit_from": None,
    "checkpoint_every_n_steps": 10,
    "trueskill_mu_init": 25.0,
    "trueskill_sigma_init": 8.333,
    "trueskill_beta": 4.166,
    "trueskill_tau": 0.0833,
    "league_eval_every_n_steps": 0,
    "league_eval_games_per_opponent": 2,
    "benchmark_eval_every_n_steps": 50,
    "benchmark_games_per_opponent": 3,
    "benchmark_max_years": 5,
    "pfsp_self_play_weight": 0.30,
    "pfsp_peer_weight": 0.30,
    "pfsp_exploitable_weight": 0.35,
    "pfsp_baseline_weight": 0.05,
    "dumbbot_game_probability": 0.1,
    "save_state_every_n_steps": 10,
    "resume_from_run": None,
    "resume_from_step": None,
    "disable_auto_resume": False,
    "total_steps": 200,
    "num_groups_per_step": 16,
    "samples_per_group": 8,
    "buffer_depth": 3,
    "max_concurrent_containers": 100,
    "learning_rate": 1e-5,
    "max_grad_norm": 10.0,
    "chunk_size": 4,
    "kl_beta": 0.0,
    "kl_beta_warmup_steps": 20,
    "kl_target": None,
    "kl_horizon": 10,
    "kl_beta_min": 0.001,
    "kl_beta_max": 0.5,
    "use_ema_reference": False,
    "ema_tau": 0.99,
    "use_ppo_clipping": True,
    "ppo_epsilon_low": 0.2,
    "ppo_epsilon_high": 0.5,
    "use_token_level_loss": True,
    "importance_sampling_correction": True,
    "importance_sampling_mode": "sequence_truncate",
    "importance_sampling_cap": 3.0,
    "entropy_coef": 0.01,
    "entropy_top_k": 100,
    "advantage_clip": 10,
    "advantage_min_std": 1e-8,
    "max_new_tokens": 120,
    "temperature": 0.8,
    "compact_prompts": True,
    "prefix_cache_optimized": True,
    "show_valid_moves": False,
    "show_board_context": True,
    "show_map_windows": True,
    "show_action_counts": True,
    "compute_ref_logprobs_in_rollout": False,
    "profiling_mode": None,
    "profile_run_name": None,
    "profiling_trace_steps": 3,
}


def experiment_config(run_name: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """The `model_dump()` of an ExperimentConfig with `overrides` (what `sweep_run_started.config` carries)."""
    return {**EXPERIMENT_CONFIG_DEFAULTS, "run_name": run_name, **overrides}


def simulated_years_per_step(config: dict[str, Any]) -> int:
    chance = config["rollout_long_horizon_chance"]
    horizon = config["rollout_horizon_years"] * (1 - chance) + config["rollout_long_horizon_years"] * chance
    return int(config["num_groups_per_step"] * config["samples_per_group"] * horizon)


def wandb_config(run_name: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """The trainer's WandB config: the dump, the two compute figures, and the league extras when on."""
    config = experiment_config(run_name, overrides)
    years = simulated_years_per_step(config)
    extras: dict[str, Any] = {
        "simulated_years_per_step": years,
        "total_simulated_years": years * config["total_steps"],
    }
    if config["league_training"]:
        extras["league_enabled"] = True
        extras["pfsp_weights"] = {
            "self": config["pfsp_self_play_weight"],
            "peer": config["pfsp_peer_weight"],
            "exploitable": config["pfsp_exploitable_weight"],
            "baseline": config["pfsp_baseline_weight"],
        }
    return {**config, **extras}
