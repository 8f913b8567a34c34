"""The README cannot rot: its commands exist and CI runs exactly its test command."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from crossling.cli import COMMANDS, build_parser

REPO = Path(__file__).resolve().parents[1]


def _bash_blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)```", (REPO / "README.md").read_text(), flags=re.S)


def test_ci_runs_the_readme_test_command_exactly() -> None:
    test_command = _bash_blocks()[1].strip()
    ci_lines = (REPO / ".ci" / "run").read_text().splitlines()
    assert test_command in ci_lines


def test_every_command_the_readme_names_exists() -> None:
    text = (REPO / "README.md").read_text()
    named = set(re.findall(r"`crossling ([a-z-]+)", text))
    named |= set(re.findall(r"crossling ([a-z-]+) ", _bash_blocks()[0]))
    assert named <= set(COMMANDS)
    sub = next(a for a in build_parser()._actions
               if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) == set(COMMANDS)
    assert all(sub.choices[c].description or sub.choices[c].format_help() for c in COMMANDS)


def test_docs_links_resolve() -> None:
    for target in re.findall(r"\]\((docs/[^)]+)\)", (REPO / "README.md").read_text()):
        assert (REPO / target).is_file(), target
