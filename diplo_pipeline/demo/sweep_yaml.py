"""The sweep definition as the training system keeps it: `experiments/sweeps/<dir>/sweep.yaml` (source-data.md §4)."""

from __future__ import annotations

from pathlib import Path

import yaml

from diplo_pipeline.demo.planted_experiments import SWEEP

RUN_DESCRIPTIONS = {
    "A": "Baseline: the default learning rate, no KL penalty.",
    "B": "10x lower learning rate: slower but steadier updates.",
    "C": "Small KL penalty (beta 0.02) at the default learning rate.",
}


def sweep_definition() -> dict:
    return {
        "metadata": {
            "name": SWEEP.name,
            "description": "Which stabiliser keeps KL bounded without giving up learning speed?",
            "hypothesis": SWEEP.hypothesis,
            "experiment_tag_prefix": SWEEP.name,
            "created": SWEEP.launched.date().isoformat(),
            "author": "bglick13",
        },
        "defaults": {"total_steps": SWEEP.steps, "lora_rank": 16, "benchmark_eval_every_n_steps": 50},
        "runs": {
            letter: {
                "name": SWEEP.tag_suffixes[letter],
                "description": RUN_DESCRIPTIONS[letter],
                # The training system writes the tag through interpolation of the prefix.
                "config": {
                    "experiment_tag": f"${{metadata.experiment_tag_prefix}}-{letter}-{SWEEP.tag_suffixes[letter]}",
                    **SWEEP.varying[letter],
                },
            }
            for letter in SWEEP.tag_suffixes
        },
        "analysis": {
            "primary_metric": "elo_gap",
            "secondary_metrics": [
                "kl/mean",
                "kl/max",
                "benchmark/grad_norm",
                "benchmark/reward_mean",
                "elo/base_model",
            ],
            "expected_ranking": list(SWEEP.expected_ranking),
            "success_criteria": [
                "kl/max < 10",
                f"all runs finish {SWEEP.steps} steps",
                "winner beats runner-up by more than 20 Elo",
            ],
        },
    }


class _Dumper(yaml.SafeDumper):
    """Multi-line strings as `|` blocks, the way the repo's sweep files write the hypothesis."""


_Dumper.add_representer(
    str,
    lambda dumper, text: dumper.represent_scalar(
        "tag:yaml.org,2002:str", text, style="|" if "\n" in text else None
    ),
)


def write_sweep_yaml(directory: Path) -> Path:
    path = directory / SWEEP.name / "sweep.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.dump(sweep_definition(), Dumper=_Dumper, sort_keys=False, width=110))
    return path
