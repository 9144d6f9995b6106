"""`diplo` at a terminal's width, into pipes, and with markup in the data, on the demo warehouse.

In an 80-column terminal a name or a number is never split, the tables keep their key columns (and say what
was left out) or become one block per row; a pipe gets every table whole; a reader that goes away ends the
command quietly; text in cells is never read as rich markup.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

from rich.cells import cell_len

from diplo_pipeline.cli.output import cell_text, is_prose
from diplo_pipeline.demo import plan as planted
from diplo_pipeline.lib.queries.core import select_columns

ROOT = Path(__file__).resolve().parents[3]
LISTED_RUN_COLUMNS = ", ".join(select_columns("cli/runs"))  # what `diplo runs` selects
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def answer(diplo, *argv):
    code, out, err = diplo(*argv, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def shown_at(diplo, terminal, width: int, *argv) -> list[str]:
    screen = terminal(width)
    code, _, err = diplo(*argv)
    assert code == 0, err
    return screen.getvalue().splitlines()


def assert_fits(lines: list[str], width: int) -> None:
    assert [line for line in lines if cell_len(line) > width] == []


def assert_whole(values, lines: list[str]) -> None:
    """Each value's text on one line, uncut: a value folded over two lines or ellipsised is on none."""
    missing = [v for v in values if not any(v in line for line in lines)]
    assert missing == [], missing
    assert not any("…" in line for line in lines)


def atomic_texts(rows: list[dict]) -> list[str]:
    return [cell_text(v) for row in rows for k, v in row.items() if v is not None and not is_prose(k, v)
            and not isinstance(v, list | dict)]


# --- 80 columns -----------------------------------------------------------------------------------------


def test_runs_at_80_columns_keep_whole_names_and_say_what_is_left_out(diplo, terminal):
    runs = answer(diplo, "runs")
    lines = shown_at(diplo, terminal, 80, "runs")
    assert_fits(lines, 80)
    header = lines[1].split()
    assert {"run_name", "state"} <= set(header) and lines[2].startswith("──")
    for run in runs:  # one line per run, with its key columns whole on it
        (line,) = [line for line in lines if f" {run['run_name']} " in f" {line} "]
        assert all(cell_text(run[column]) in line for column in header)
    left_out = [c for c in LISTED_RUN_COLUMNS.split(", ") if c not in header]
    note = " ".join(lines[3 + len(runs):])
    assert left_out and all(column in note for column in left_out) and "--format json" in note
    assert len(lines) <= 3 + len(runs) + 3


def test_the_sweep_at_80_columns_is_one_block_per_run_with_every_value_whole(diplo, terminal):
    sweep = answer(diplo, "sweep", planted.SWEEP.name)
    lines = shown_at(diplo, terminal, 80, "sweep", planted.SWEEP.name)
    assert_fits(lines, 80)
    assert_whole(atomic_texts(sweep["sweep_runs"]) + atomic_texts([{k: v for k, v in sweep.items()
                                                                    if not isinstance(v, dict | list)}]), lines)
    for run in sweep["sweep_runs"]:  # every field of every run, one line each: nothing was left out
        assert any(re.fullmatch(rf"  run_name\s+{re.escape(run['run_name'])}", line) for line in lines)
        assert any(re.fullmatch(rf"  final_elo_gap\s+{re.escape(cell_text(run['final_elo_gap']))}", line)
                   for line in lines)
    # About a line per field (a run's block holds analyze_sweep's ~36 columns): titles, rules, the rankings table
    # and wrapped free text add a few; one-character header columns once made it half as many again.
    fields = sum(len(run) for run in sweep["sweep_runs"]) + len(sweep)
    assert len(lines) < fields + 25


def test_findings_at_80_columns_take_a_few_lines_each(demo, diplo, terminal):
    run = demo["plan"].run(planted.DIVERGENCE.run_key).name
    findings = answer(diplo, "findings", run)["findings"]
    lines = shown_at(diplo, terminal, 80, "findings", run)
    assert_fits(lines, 80)
    assert_whole(atomic_texts(findings), lines)
    words = " ".join(lines).split()
    for finding in findings:  # free text wraps between words, every word whole and in order
        for text in (finding["message"], finding["hypothesis"]):
            wanted = text.split()  # anywhere: a message's first word may also start an earlier one
            assert any(words[i:i + len(wanted)] == wanted for i in range(len(words))), text
    # the divergence's four episodes, and its regressions against its baseline (run_baselines)
    assert len([f for f in findings if f["rule"] != "regression_vs_baseline"]) == 4
    assert len(lines) < 20 * len(findings)  # was 194 lines for the four episodes alone


def test_a_real_80_column_terminal(demo):
    """`diplo runs` on a pseudo-terminal 80 columns wide: what a user at a narrow terminal sees."""
    controller, screen = pty.openpty()
    fcntl.ioctl(screen, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "FORCE_COLOR", "TTY_COMPATIBLE")}
    env.update(PYTHONPATH=str(ROOT), TERM="xterm-256color")
    process = subprocess.Popen([sys.executable, "-m", "diplo_pipeline.cli", "--data-dir", str(demo["paths"].data_dir),
                                "runs"], stdin=screen, stdout=screen, stderr=screen, env=env, cwd=ROOT)
    os.close(screen)
    output = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the terminal closed when the command exited
            break
        if not chunk:
            break
        output += chunk
    os.close(controller)
    assert process.wait(timeout=60) == 0
    lines = ANSI.sub("", output.decode()).replace("\r\n", "\n").splitlines()
    assert_fits(lines, 80)
    assert_whole([run.name for run in demo["plan"].runs.values()], lines)
    assert any("left out at 80 columns" in line for line in lines)


# --- pipes ------------------------------------------------------------------------------------------------


def diplo_process(demo, *argv: str, **popen) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "80"}  # a narrow terminal's COLUMNS must not matter
    return subprocess.Popen([sys.executable, "-m", "diplo_pipeline.cli", "--data-dir", str(demo["paths"].data_dir),
                             *argv], env=env, cwd=ROOT, **popen)


def test_piped_tables_are_whole_at_their_natural_width(demo):
    process = diplo_process(demo, "runs", stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    lines = out.splitlines()
    assert lines[1].split() == LISTED_RUN_COLUMNS.split(", ")  # every column, however narrow the terminal
    assert_whole([run.name for run in demo["plan"].runs.values()], lines)
    assert max(map(cell_len, lines)) > 80 and len(lines) == 3 + len(demo["plan"].runs)


def test_a_reader_that_goes_away_ends_the_command_quietly(demo):
    process = diplo_process(demo, "runs", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # like `| head -n 0`: nobody reads what diplo writes
    err = process.stderr.read().decode()
    assert process.wait(timeout=60) == 1 and err == ""


def test_head_takes_the_first_line_without_a_traceback(demo):
    prefix = f"PYTHONPATH={ROOT} COLUMNS=80 {sys.executable} -m diplo_pipeline.cli --data-dir {demo['paths'].data_dir}"
    for command, first in [
        (f"{prefix} runs | head -1", "runs"),
        # Far more than a pipe buffer, so diplo is still writing when head has gone.
        (f"{prefix} sql \"select range as n, repeat('x', 60) as s from range(20000)\" | head -1", "sql"),
        (f"{prefix} sql 'select * from range(300000)' --format csv | head -1", "range"),
    ]:
        done = subprocess.run(["bash", "-c", command], check=False, capture_output=True, text=True, timeout=120,
                              cwd=ROOT)
        assert (done.returncode, done.stdout, done.stderr) == (0, f"{first}\n", ""), command


# --- markup in the data -----------------------------------------------------------------------------------


def test_markup_in_sql_cells_and_headers_prints_literally(diplo, terminal):
    query = """select '[/bold]' as x, '[red]y[/red]' as "[/bold]", '[link=file:///etc]z[/link]' as w"""
    for fmt in ("table", "csv", "json"):
        code, out, err = diplo("sql", query, "--format", fmt)
        assert code == 0 and "Traceback" not in err, err
        assert all(text in out for text in ("[/bold]", "[red]y[/red]", "[link=file:///etc]z[/link]")), out
    lines = shown_at(diplo, terminal, 80, "sql", query)
    assert "[/bold]" in lines[1] and "[red]y[/red]" in lines[3]


def test_a_sql_error_quoting_markup_is_shown_not_parsed(diplo):
    code, out, err = diplo("sql", "select [/bold] from runs")
    assert code == 1 and out == "" and "[/bold]" in err and "Traceback" not in err
