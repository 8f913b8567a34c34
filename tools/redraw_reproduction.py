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

import math
import re
import shutil
import sys
import tempfile
from dataclasses import fields
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crossling.report.data import compute_report  # noqa: E402
from crossling.report.write import write_report  # noqa: E402
from crossling.results import ScoreRow, SimilarityRow  # noqa: E402
from crossling.results.rows import SIMILARITY_RECORD  # noqa: E402

REPRO = ROOT / "docs" / "reproduction"
NOT_REDRAWN = {"provenance.csv", "settings.csv", "retrieval.csv", "probe.csv"}
"""Tables read from the rows' provenance or from rows the committed CSVs do not hold."""

def _record(row: dict[str, Any], names: set[str]) -> dict[str, Any]:
    """A CSV record as row fields: blanks to None, integer columns back to int."""
    out = {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()
           if k in names}
    for key in ("seed", "compare_seed", "compare_layer", "layer"):
        if out.get(key) is not None:
            out[key] = int(out[key])
    return out


def committed_rows() -> tuple[list[ScoreRow], list[SimilarityRow]]:
    """Every fine-tuning and similarity row of the committed scores.csv and similarity.csv."""
    text = {"reinit": str, "finetune_cell": str}
    score_names = {f.name for f in fields(ScoreRow)}
    scores = [ScoreRow(**{"split": "test", **_record(r, score_names)})
              for r in pd.read_csv(REPRO / "scores.csv", dtype=text).to_dict("records")]
    sim_names = set(SIMILARITY_RECORD)
    frame = pd.read_csv(REPRO / "similarity.csv", dtype=text)
    # the report's similarity.csv of 0.2.0 has no compare_layer: a layer-difference row's
    # second layer is the top layer the curves were measured at
    top = int(frame.loc[frame["kind"] == "cross-lingual", "layer"].max())
    sims = []
    for r in frame.to_dict("records"):
        rec = _record(r, sim_names)
        if rec["kind"] == "layer-difference" and rec.get("compare_layer") is None:
            rec["compare_layer"] = top
        for key in ("ci_low", "ci_high", "null_mean", "null_high"):
            rec[key] = float("nan") if rec[key] is None else rec[key]
        sims.append(SimilarityRow.from_record(rec))
    return scores, sims


def readme_facts(readme: str) -> tuple[str, list[tuple[str, str]]]:
    """The command and the "What was run" facts of a committed README (they come from the
    store, which is not committed)."""
    command = re.search(r"```bash\n(.*)\n```", readme)
    assert command is not None
    facts = re.findall(r"^- \*\*(.+?)\*\*: (.*)$", readme.split("## Verdicts")[0], flags=re.M)
    return command.group(1), facts


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
    `KEEP_SECTIONS`) replaced by the redrawn one, and each section new in ``redrawn`` inserted
    after the section it follows there; ``tail`` ends the last section."""
    pattern = re.compile(title)
    if tail:
        committed, end = committed.split(tail, 1)
        redrawn = redrawn.split(tail, 1)[0]
    head, old = _split(committed, start, pattern)
    _, new = _split(redrawn, start, pattern)
    fresh = dict(new)
    known = dict(old)
    after: dict[str, list[str]] = {}  # a section new to the report follows its predecessor
    previous = ""
    for name, _ in new:
        if name not in known:
            after.setdefault(previous, []).append(fresh[name])
        else:
            previous = name
    out = head + "".join(after.get("", []))
    for name, block in old:
        out += block if name.startswith(KEEP_SECTIONS) or name not in fresh else fresh[name]
        out += "".join(after.get(name, []))
    return out + (tail + end if tail else "")


def main() -> None:
    readme = (REPRO / "README.md").read_text(encoding="utf-8")
    title = readme.splitlines()[0].removeprefix("# Reproduction: ")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        write_report(compute_report(*committed_rows()), out, title=title,
                     readme=readme_facts(readme))
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
