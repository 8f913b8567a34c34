"""Redraw docs/reproduction from its committed rows after a change of the report code.

The study's store is not committed; its scores.csv and similarity.csv hold every fine-tuning
and similarity row, and tests/test_reproduction_redraw.py checks that the report code draws
every analysis CSV and the README from them. This script writes that redraw into the folder:
the analysis CSVs, README.md and the scatter figures are replaced; in report.md and index.html
every section the redraw has is replaced and the others are kept (retrieval and probing, whose
rows are not among these CSVs, and Settings and Provenance, which read the rows' provenance);
provenance.csv, settings.csv, retrieval.csv, probe.csv and the other figures are kept.

From the repository root: ``PYTHONPATH=src python tools/redraw_reproduction.py``.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crossling.report.data import compute_report  # noqa: E402
from crossling.report.write import write_report  # noqa: E402
from tests.test_reproduction_redraw import NOT_REDRAWN, REPRO, _facts, _rows  # noqa: E402

KEEP_SECTIONS = ("Settings", "Provenance")
"""Sections that read the rows' provenance, which the committed CSVs do not hold."""


def _split(text: str, start: str, title: re.Pattern[str]) -> tuple[str, list[tuple[str, str]]]:
    """(head, [(title, block)]): ``text`` cut before every line starting with ``start``."""
    pieces = re.split(f"(?m)^(?={re.escape(start)})", text)
    blocks = []
    for piece in pieces[1:]:
        found = title.match(piece)
        blocks.append((found.group(1) if found else piece.splitlines()[0], piece))
    return pieces[0], blocks


def splice(committed: str, redrawn: str, start: str, title: str, tail: str = "") -> str:
    """``committed`` with each section also in ``redrawn`` (same title, not in
    `KEEP_SECTIONS`) replaced by the redrawn one; ``tail`` ends the last section."""
    pattern = re.compile(title)
    if tail:
        committed, end = committed.split(tail, 1)
        redrawn = redrawn.split(tail, 1)[0]
    head, old = _split(committed, start, pattern)
    _, new = _split(redrawn, start, pattern)
    fresh = dict(new)
    missing = [t for t, _ in new if t not in dict(old)]
    if missing:
        raise SystemExit(f"redrawn sections the committed report lacks: {missing}")
    out = head + "".join(block if name.startswith(KEEP_SECTIONS) or name not in fresh
                         else fresh[name] for name, block in old)
    return out + (tail + end if tail else "")


def main() -> None:
    readme = (REPRO / "README.md").read_text(encoding="utf-8")
    title = readme.splitlines()[0].removeprefix("# Reproduction: ")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        write_report(compute_report(*_rows()), out, title=title, readme=_facts(readme))
        for path in sorted(out.glob("*.csv")):
            if path.name not in NOT_REDRAWN:
                shutil.copyfile(path, REPRO / path.name)
        for path in [out / "README.md", *sorted(out.glob("scatter-*.png"))]:
            shutil.copyfile(path, REPRO / path.name)
        for name, start, pattern, tail in (
                ("report.md", "## ", r"## (.*)\n", ""),
                ("index.html", "<h2>", r"<h2>(.*?)</h2>", "</body>")):
            text = splice((REPRO / name).read_text(encoding="utf-8"),
                          (out / name).read_text(encoding="utf-8"), start, pattern, tail)
            (REPRO / name).write_text(text, encoding="utf-8")
    print(f"redrawn: {REPRO.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
