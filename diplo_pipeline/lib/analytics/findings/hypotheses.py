"""The `hypothesis` of each rule: the likely cause of a finding and its usual fix, for a researcher.

Texts that quote a target are formatted from the limit itself (`RuleLimits`), so they say what the rules
judge by; the healthy KL range is the guides' description of a good run, not a limit any rule applies.
"""

from __future__ import annotations

from diplo_pipeline.lib.analytics.findings.finding import num, percent
from diplo_pipeline.lib.analytics.findings.rule_limits import RuleLimits


def hypotheses(limits: RuleLimits) -> dict[str, str]:
    """Rule name -> its hypothesis."""
    return {
        "grad_norm_spike": (
            "Optimisation instability: one batch produced an outsized gradient (grad_norm is logged before "
            "clipping). Lower the learning rate or clip gradients harder (max_grad_norm); if KL spikes at the "
            "same steps, the update pushed the policy somewhere it could not recover from."
        ),
        "kl_high": (
            "The policy is drifting from the reference faster than the KL penalty holds it (healthy KL is "
            "0.01–0.05). Lower the learning rate or clip gradients; raise kl_beta or set a kl_target."
        ),
        "kl_max_explosion": (
            "Some sequences moved far from the reference: an unstable update or degenerate generations. Lower "
            "the learning rate or clip gradients; with use_ema_reference on, suspect the EMA-reference bug "
            "instead."
        ),
        "loss_divergence": (
            "Training diverged: the loss left its usual range for good (or became NaN/inf). Restart from the "
            "last good checkpoint with a lower learning rate or tighter gradient clipping; for a non-finite "
            "loss also check for bf16 overflow and empty batches."
        ),
        "reward_early_decline": (
            "The first updates hurt the policy: usually too high a learning rate, or model degradation (broken "
            "order format, fewer valid orders). Check the extraction rate, the prompt structure and the logits "
            "processor; lower the learning rate or warm the KL penalty up."
        ),
        "reward_plateau": (
            "Learning has stalled, or converged against these opponents. Run more steps only if the Elo gap is "
            "still growing; otherwise train against more diverse opponents (stronger baselines such as DumbBot, "
            "the PFSP mix) or revisit the reward."
        ),
        "extraction_rate_low": (
            "The parser cannot extract the model's orders (target above "
            f"{percent(limits.extraction_rate_min)}): model degradation or a prompt change. Check the prompt "
            "structure (valid-moves list, format instructions) and the logits processor; extraction_by_power "
            "shows which power lost the orders."
        ),
        "empty_responses_spike": (
            f"Many responses carry no orders at all (target under {percent(limits.empty_share_max)}): "
            "truncated generations or a broken format. Check max_tokens, the prompt structure and the logits "
            "processor (the count also includes legitimate no-orders-needed warm-up responses)."
        ),
        "rollout_failures": (
            "Rollouts fail repeatedly, not as an isolated blip: an infrastructure problem (container crashes, "
            "inference timeouts, volume errors). Read the rollout_error events of those hours; a deeper buffer "
            "absorbs isolated failures but not a systematic one."
        ),
        "volume_reload_slow": (
            "Reloading the adapter volume is slow: volume I/O is the bottleneck. Reload only when a new adapter "
            "was committed, keep adapters small, and commit the volume less often."
        ),
        "rollout_slow": (
            f"Rollouts run long (p95 target under {num(limits.rollout_total_max_s)} s): the inference engine "
            "is saturated or long-horizon games dominate. Deepen the rollout buffer so training does not wait, "
            "and check inference throughput, batch size and volume I/O."
        ),
        "cache_hit_low": (
            f"The prefix cache is barely used (target above {percent(limits.cache_hit_target)} after "
            "warm-up): prompts differ before their shared part. Put the static prefix first (system prompt, "
            "rules, instructions) and the game state last."
        ),
        "checkpoint_regression": (
            "The newest checkpoint is losing the rating it reached: the latest updates made the policy weaker, "
            "or the league found how to exploit it. Compare it with the previous checkpoint; lower the learning "
            "rate, or add more diverse opponents so it does not overfit the current league."
        ),
        "baselines_rising": (
            "A fixed baseline gains rating, so it beats the trained policy more often than it used to: the "
            "policy is forgetting how to play it, or exploiting league peers instead. Put that baseline back in "
            "the opponent mix (more diverse opponents) and check the reward for hacking."
        ),
        "run_crashed": (
            "The trainer died without an exit record: usually out of memory, a preemption or a container "
            "timeout. Check the Modal logs and gpu_stats around the last step (the trainer's own Axiom events "
            "are lost in a crash), then resume from the last saved state."
        ),
        "regression_vs_baseline": (
            "The config keys this run changed against its baseline (run_baselines.differing_keys) made it "
            "worse by more than the noise allows (significant at z = " + f"{limits.significance_z:g}" + "): "
            "revert or shrink the change, or check that the baseline is the right comparison (same base model, "
            "tagged baseline preferred) before concluding. `diplo compare RUN --baseline` shows both side by side."
        ),
        "invalid_ema_reference": (
            "The EMA-reference bug (fixed 2025-12-28): the cached reference logprobs came from the rollout "
            "policy, so KL was measured against the wrong model. The run's results are invalid: exclude it from "
            "comparisons and rerun with the fix, or with use_ema_reference off."
        ),
    }
