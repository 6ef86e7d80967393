#!/usr/bin/env python3
"""Proves that iam_checks.py fails on each defect it is meant to catch, and only on those.

Each folder beside this file is a set of rendered policy documents; expected.json says, for each,
  {"failures": [[check, file, sid, action], ...], "excused": [...], "listed": [...]}
The checks must report exactly those failures, excuse and list exactly those findings; a folder
expecting no failure must pass. An empty folder must fail too (a renderer that wrote nothing).

Usage: selftest.py [--write]   (--write records what the checks report now, to be reviewed)
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.dont_write_bytecode = True  # no __pycache__ beside the tracked sources

import iam_checks  # noqa: E402


EXPECTED = HERE / "expected.json"
PARTS = ("failures", "excused", "listed")


def dump(recorded: dict) -> str:
    """One finding a line, so that a change of expectation reads as a one-line diff."""
    parts = []
    for name, got in sorted(recorded.items()):
        lists = [
            f'  "{part}": [' + ",".join("\n   " + json.dumps(e) for e in got[part]) + ("\n  ]" if got[part] else "]")
            for part in PARTS
        ]
        parts.append(f' "{name}": {{\n' + ",\n".join(lists) + "\n }")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def keys(entries: list[dict]) -> list[list[str]]:
    return sorted([e["check"], e["file"], e["sid"], e["action"]] for e in entries)


def run_quietly(folder: Path) -> tuple[iam_checks.Report, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        report = iam_checks.run(folder)
    return report, out.getvalue()


def main() -> int:
    write = "--write" in sys.argv[1:]
    cases = sorted(p for p in HERE.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))
    expectations = json.loads(EXPECTED.read_text()) if EXPECTED.exists() and not write else {}
    recorded = {}
    bad = 0
    for case in cases:
        report, output = run_quietly(case)
        got = {part: keys(getattr(report, part)) for part in PARTS}
        if write:
            recorded[case.name] = got
            continue
        expected = expectations.get(case.name)
        if expected is None:
            bad += 1
            print(f"FAILED {case.name}: no expectation in {EXPECTED.name}")
            continue
        problems = []
        for part in PARTS:
            want = sorted(expected[part])
            for entry in want:
                if entry not in got[part]:
                    problems.append(f"missing from {part}: {entry}")
            for entry in got[part]:
                if entry not in want:
                    problems.append(f"unexpected in {part}: {entry}")
        if problems:
            bad += 1
            print(f"FAILED {case.name}:\n  " + "\n  ".join(problems) + "\n--- its output:\n" + output)
        else:
            counts = ", ".join(f"{len(got[part])} {part}" for part in PARTS)
            print(f"ok {case.name}: {counts}, as expected")
    if write:
        EXPECTED.write_text(dump(recorded))
        print(f"recorded {len(recorded)} cases in {EXPECTED}: review the diff")
        return 0
    with tempfile.TemporaryDirectory() as empty:
        report, _ = run_quietly(Path(empty))
        if [f["check"] for f in report.failures] != ["input"]:
            bad += 1
            print("FAILED empty folder: it must fail as 'input' alone")
        else:
            print("ok empty folder: fails")
    # The permission table's actions: a misspelt and an invented one fail, the real ones pass.
    report = iam_checks.Report()
    with contextlib.redirect_stdout(io.StringIO()):
        iam_checks.table_check(HERE / "_table" / "permissions.json", report)
    failed = sorted(f["action"] for f in report.failures)
    if failed != ["dynamodb:DescribeTables", "dynamodb:ListEverything"]:
        bad += 1
        print(f"FAILED permission table: failures {failed}")
    else:
        print("ok permission table: the misspelt and the invented action fail")
    if not cases:
        bad += 1
        print(f"FAILED: no cases under {HERE}")
    print(f"iam checks self-test: {len(cases) + 2} cases, {bad} not as expected")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
