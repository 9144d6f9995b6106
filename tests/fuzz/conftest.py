"""Fuzzing settings: a bounded, repeatable number of cases in `make test`, open-ended in `make fuzz`."""

from hypothesis import HealthCheck, settings

from tests.fuzz.mutations import PROFILE

# `ci`: few enough cases to keep `make test` quick, derandomised so a failure reproduces on every run.
settings.register_profile(
    "ci", max_examples=60, deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
# `fuzz`: as many cases as the time allows (`make fuzz FUZZ_SECONDS=...` bounds the mutation loops).
settings.register_profile(
    "fuzz", max_examples=5_000, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile(PROFILE)
