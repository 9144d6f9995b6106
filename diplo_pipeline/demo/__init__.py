"""Demo data: real WandB offline runs and Axiom exports with planted, documented behaviours (see plan.py)."""

from diplo_pipeline.demo.generate import generate_demo

__all__ = ["generate_demo"]
