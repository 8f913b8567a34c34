"""The generated README of a study report: the verdict on each proposition, from verdicts.csv.

Every number of its verdict table is a cell of ``verdicts.csv`` written in the same run,
formatted by `fmt_estimate` (a test re-reads both files and compares them), so the table a
reader sees first is never typed by hand: the overall verdicts, then every task's. The fixed
prose per proposition (what the paper found on mBERT, what was expected of the model before
the run) is the only text that is not computed; what was observed is generated from the rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd

from crossling.analysis.verdicts import OVERALL
from crossling.report.markdown import markdown_table

PAPER_ON_MBERT: Mapping[str, str] = {
    "P2": "On mBERT, re-initialising the lower blocks (1-2, 3-4) lowered the targets' scores far "
          "more than the source's: the source-target gap widened.",
    "P3": "On mBERT, re-initialising the top blocks (11-12) cost little on the source and on "
          "the targets.",
    "P4": "On mBERT, CKA(pretrained, fine-tuned) stayed near 1 in the lower layers and fell in "
          "the upper ones.",
    "P5": "On mBERT, cross-lingual CKA rose over the first layers, peaked in the middle and fell "
          "towards the top (RBF CKA on 25-sentence windows).",
    "P6": "On mBERT, per-layer similarity correlated with zero-shot scores across languages.",
}
EXPECTED_BEFORE: Mapping[str, Mapping[str, str]] = {
    "multilingual-e5-small": {
        "P2": "a 12-block, 384-wide MiniLM distillation of an XLM-R-vocabulary model: its lower "
              "blocks are thinner than mBERT's, so a 2-block re-init was expected to remove a "
              "larger share of its capacity.",
        "P3": "its top blocks were trained contrastively for sentence embeddings (mean pooling "
              "of the last layer); a token-level task was expected to need little of that.",
        "P4": "its contrastive training had already changed its upper layers before any "
              "fine-tuning; what fine-tuning moves is read against two fine-tuned seeds.",
        "P5": "trained on parallel and paired text so that the mean-pooled last layer aligns "
              "translations, it was not expected to fall at the top.",
        "P6": "its alignment is high for every PUD language, so little spread was expected for "
              "a correlation across languages; languages close to English are both similar "
              "and easy.",
    },
}
"""What was expected of a model before the study ran, per proposition (keyed by a part of
the model's name); the README sets it beside what was observed, computed from the verdicts."""
GPU_STUDY = "studies/first-align-then-predict.yaml"
"""The paper's study at full size (mBERT; a GPU), for another model than the one reported."""
PROPOSITIONS: Mapping[str, str] = {
    "P2": "re-initialising the lower layers hurts the targets far more than the source",
    "P3": "the top layers can be re-initialised almost for free",
    "P4": "fine-tuning changes mostly the upper layers",
    "P5": "cross-lingual similarity rises, peaks, then falls at the top",
    "P6": "per-layer similarity predicts transfer across languages",
}


def fmt_number(value: float, digits: int = 2) -> str:
    """A verdict number as the README shows it (``–`` for NaN)."""
    return "–" if value is None or not math.isfinite(float(value)) else f"{value:.{digits}f}"


def fmt_estimate(row: Mapping[str, object] | pd.Series) -> str:
    """``estimate [low, high]`` (the interval only where it exists)."""
    est = fmt_number(float(row["estimate"]))  # type: ignore[arg-type]
    lo, hi = float(row["ci_low"]), float(row["ci_high"])  # type: ignore[arg-type]
    if math.isfinite(lo) and math.isfinite(hi):
        return f"{est} [{fmt_number(lo)}, {fmt_number(hi)}]"
    return est


def verdict_table(verdicts: pd.DataFrame) -> pd.DataFrame:
    """The README's table: one row per verdict row, numbers formatted from the CSV's cells.

    Read at a glance: proposition, task and verdict lead, then the estimate; the statistic's
    long text comes last (the column index.html lets wrap), so no verdict sits off screen."""
    return pd.DataFrame({
        "proposition": verdicts["proposition"], "task": verdicts["task"],
        "verdict": verdicts["verdict"],
        "estimate [95% interval]": [fmt_estimate(r) for _, r in verdicts.iterrows()],
        # a count, also where a missing n made the column float
        "n": ["–" if pd.isna(v) else str(int(v)) for v in verdicts["n"]],
        "metric": verdicts["metric"], "statistic": verdicts["statistic"]})


def is_overall(verdicts: pd.DataFrame) -> pd.Series:
    """Which verdict rows are overall verdicts (``task`` `OVERALL`)."""
    return verdicts["task"].astype(str) == OVERALL


def observed(rows: pd.DataFrame) -> str:
    """What the verdict rows of one proposition say, in one sentence: the overall verdict,
    then each task's (or measure's) verdict with its estimate."""
    if rows.empty:
        return "not measured."
    overall = rows[is_overall(rows)]
    per = rows[~is_overall(rows)]
    repeated = per["task"].duplicated(keep=False)
    items = []
    for (_, r), again in zip(per.iterrows(), repeated, strict=True):
        label = str(r["metric"]) if r["task"] == "pretrained" else str(r["task"])
        if again and r["task"] != "pretrained":
            label += f" {str(r['statistic']).split(' (')[0]}"
        items.append(f"{label} {r['verdict']} ({fmt_estimate(r)}, n = {r['n']})")
    head = f"overall **{overall.iloc[0]['verdict']}**; " if len(overall) else ""
    return head + "; ".join(items) + "."


def _expected(model: str, prop: str) -> str:
    for key, notes in EXPECTED_BEFORE.items():
        if key in model and prop in notes:
            return notes[prop]
    return ""


def _scope(model: str) -> str:
    """Whose findings these are, and how to run the same study on the paper's models."""
    who = f"**These are findings about {model}**" if model else "**These are findings " \
        "about the model reported here**"
    return (f"> {who}, one model: they say nothing yet about mBERT or XLM-R. The same study "
            f"on the paper's mBERT runs on one GPU from `{GPU_STUDY}`, in one command: "
            f"`crossling run {GPU_STUDY} --data DATA && crossling report {GPU_STUDY} "
            "--data DATA --out OUT`; for XLM-R set its `model:` to `xlm-roberta-base` "
            "(or `[bert-base-multilingual-cased, xlm-roberta-base]` for both side by side).\n")


def render_readme(verdicts: pd.DataFrame, *, title: str, command: str,
                  facts: Sequence[tuple[str, str]], files: Sequence[tuple[str, str]]) -> str:
    """The README text: the overall verdicts first (whose findings they are, how to run the
    study on mBERT or XLM-R), what was run (``facts``: label, value), every task's verdict,
    then per proposition its rows with their intervals, rules and what would change them,
    what the paper found on mBERT, what was expected of this model and what was observed,
    and the files (name, what it holds)."""
    model = dict(facts).get("model", "")
    parts = [f"# {title}\n",
             "> Generated by `crossling report` from `verdicts.csv` and the CSVs beside it; "
             "do not edit by hand (a test compares every number here with the CSV). The rules "
             "were fixed before the study ran: [analysis-plan.md](analysis-plan.md).\n",
             _scope(model)]
    overall = verdicts[is_overall(verdicts)] if not verdicts.empty else verdicts
    per_task = verdicts[~is_overall(verdicts)] if not verdicts.empty else verdicts
    parts.append("## Overall verdicts\n")
    if overall.empty:
        parts.append("No overall verdict: the store holds none of the rows the plan's overall "
                     "rules need.\n")
    else:
        parts.append(markdown_table(verdict_table(overall)) + "\n")
        p6 = per_task[per_task["proposition"] == "P6"]
        if not p6.empty:
            parts.append("P6 has a rule per task only (the plan gives no overall one): "
                         + observed(p6) + "\n")
    parts += ["## What was run\n", f"```bash\n{command}\n```\n"]
    parts += [f"- **{label}**: {value}" for label, value in facts]
    parts.append("\n## Verdicts per task\n")
    if per_task.empty:
        parts.append("No proposition could be judged: the store holds none of the rows the "
                     "rules need.\n")
    else:
        parts.append(markdown_table(verdict_table(per_task)) + "\n")
    for prop, claim in PROPOSITIONS.items():
        rows = verdicts[verdicts["proposition"].str.startswith(prop)] if not verdicts.empty \
            else verdicts
        parts.append(f"## {prop}: {claim}\n")
        if rows.empty:
            parts.append("Not measured by this study.\n")
        for _, r in rows.iterrows():
            parts.append(f"- **{r['verdict']}** ({r['task']}, {r['metric']}): {r['statistic']} "
                         f"= {fmt_estimate(r)}; n = {r['n']}. Interval: {r['interval']}. "
                         f"Rule: {r['criterion']}. What would change it: {r['would_change']}.")
        expected = _expected(model, prop)
        note = f"*Expected of this model before the run:* {expected} " if expected else ""
        parts.append(f"\n*The paper (mBERT):* {PAPER_ON_MBERT[prop]} {note}"
                     f"*Observed ({model or 'this model'}):* {observed(rows)}\n")
    parts.append("## Files\n")
    parts += [f"- [{name}]({name}): {what}" for name, what in files]
    return "\n".join(parts) + "\n"
