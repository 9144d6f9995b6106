"""The demo generator: Axiom exports in the `axiom query -f json` format, deterministic for a seed, and real
WandB offline files for the planted crash and resume. (What the warehouse makes of them is tested there.)"""

from __future__ import annotations

import gzip
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from diplo_pipeline.demo import generate_demo
from diplo_pipeline.demo.plan import CRASH, EXTRACTION_DROP, RESUME, build_plan

pytestmark = pytest.mark.slow  # builds; tests/conftest.py schedules slow modules first

RFC3339NANO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.(\d{0,8}[1-9]))?Z$")
STRING_LITERAL = re.compile(r'"(?:[^"\\]|\\.)*"')


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("demo")
    return out, generate_demo(out)


def _export_lines(out: Path) -> dict[str, list[str]]:
    lines = {}
    for path in sorted((out / "axiom").iterdir()):
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        lines[path.name] = data.decode().splitlines()
    return lines


def _parse_time(text: str) -> datetime:
    whole, _, fraction = text.removesuffix("Z").partition(".")
    micros = int(fraction.ljust(9, "0")[:6]) if fraction else 0
    return datetime.fromisoformat(whole).replace(tzinfo=UTC, microsecond=micros)


def test_same_seed_gives_byte_identical_axiom_exports_and_sweep_file(demo, tmp_path):
    out, _ = demo
    generate_demo(tmp_path, seed=7)

    def files(root: Path) -> dict[str, bytes]:
        paths = [*(root / "axiom").iterdir(), *(root / "sweeps").rglob("*.yaml")]
        return {str(path.relative_to(root)): path.read_bytes() for path in paths}

    assert files(tmp_path) == files(out)


def test_export_lines_are_compact_sorted_json_with_rfc3339nano_times(demo):
    out, manifest = demo
    lines = _export_lines(out)
    assert any(name.endswith(".ndjson.gz") for name in lines)
    fraction_lengths = set()
    for name, file_lines in lines.items():
        assert file_lines, name
        for line in file_lines:
            event = json.loads(line)
            assert list(event) == sorted(event)
            assert not re.search(r"\s", STRING_LITERAL.sub("", line)), line  # compact outside strings
            assert not set("<>&") & set(line), line  # Go's json.Encoder escapes these
            assert event["service"] == "unknown" and event["event"]
            for field in ("_time", "_sysTime"):
                match = RFC3339NANO.match(event[field])
                assert match, event[field]
                fraction_lengths.add(len(match.group(1) or ""))
                assert _parse_time(event[field]).year == 2025
    assert len(fraction_lengths) > 3  # trailing zeros are trimmed, so fractions vary in length
    assert (
        sum(map(len, lines.values())) == manifest["axiom"]["events"] + manifest["axiom"]["duplicated_events"]
    )


def test_reexport_repeats_day_file_lines_byte_for_byte(demo):
    out, manifest = demo
    lines = _export_lines(out)
    duplicate = manifest["planted"]["duplicate_export"]["file_name"]
    day_lines = set(lines[f"diplomacy-{EXTRACTION_DROP.day.isoformat()}.ndjson"])
    assert lines[duplicate] and set(lines[duplicate]) <= day_lines
    assert len(lines[duplicate]) == manifest["axiom"]["duplicated_events"]


def test_crashed_run_wrote_a_file_that_looks_idle_since_the_crash(demo):
    out, manifest = demo
    run = build_plan(manifest["seed"]).run(CRASH.run_key)
    (relative,) = manifest["runs"][CRASH.run_key]["wandb_files"]
    path = out / relative
    assert path.name == f"run-{run.run_id}.wandb" and path.stat().st_size > 32 * 1024
    assert path.read_bytes()[:4] == b":W&B"
    last_logged = datetime.fromisoformat(manifest["runs"][CRASH.run_key]["end"])
    assert abs(path.stat().st_mtime - last_logged.timestamp()) < 2
    assert manifest["runs"][CRASH.run_key]["last_step"] == CRASH.last_step


def test_resumed_run_has_two_offline_dirs_with_the_same_run_id(demo):
    out, manifest = demo
    run_id = manifest["runs"][RESUME.run_key]["run_id"]
    folders = sorted((out / "wandb").glob(f"offline-run-*-{run_id}"))
    assert len(folders) == 2
    assert all((folder / f"run-{run_id}.wandb").is_file() for folder in folders)
    processes = manifest["runs"][RESUME.run_key]["processes"]
    assert [(p["first_step"], p["last_step"], p["killed"]) for p in processes] == [
        (0, RESUME.crash_after_step, True),
        (RESUME.resume_from_step, RESUME.last_step, False),
    ]


def test_manifest_records_planted_values_recomputed_from_the_data(demo):
    _, manifest = demo
    computed = manifest["computed"]
    italy = computed["extraction"]["planted_day"]
    assert (italy["orders_expected"], italy["orders_extracted"]) == (
        EXTRACTION_DROP.orders_expected,
        EXTRACTION_DROP.orders_extracted,
    )
    assert italy["rate"] == 0.8
    assert computed["health"]["degraded_hour"]["status"] == "degraded"
    assert computed["health"]["healthy_hours"] == computed["health"]["hours"] - 1
    assert set(computed["cache"]["exact_hour_hit_rates"].values()) == {0.62}
    assert computed["sweep"]["ranking"][0] == manifest["planted"]["sweep"]["expected_winner"]
