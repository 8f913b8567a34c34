"""The P6 confounds of a committed report folder, for a model whose tokenizer is at hand.

A report written before the confounds existed (docs/reproduction) holds its rows' similarity and
scores as CSVs, but not the tokenizer covariates; this script computes them with the model's
tokenizer on the PUD files and writes ``p6-confounds.csv`` and ``p6-covariates.csv`` as
``crossling report`` would (`crossling.analysis.confounds`). From the repository root:

``python tools/p6_confounds.py docs/reproduction MODEL UD_FOLDER docs/e5/p6``
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from crossling.analysis.confounds import confound_table, covariate_table
from crossling.analysis.correlate import MAIN_METRIC
from crossling.similarity.measures import HEADLINE_MEASURE
from crossling.workflows.covariates import pud_covariates


def main(report: Path, model: str, ud: Path, out: Path, n_perm: int = 100_000) -> None:
    sf = pd.read_csv(report / "similarity.csv", dtype={"reinit": str, "finetune_cell": str})
    sf["finetuned"] = sf["finetuned"].astype(bool)
    sc = pd.read_csv(report / "scores.csv", dtype={"reinit": str})
    tok = pud_covariates(model, ud)
    tasks = {t: m for t, m in MAIN_METRIC.items() if t in set(sc["task"])}
    conf = confound_table(sf, sc, tasks, HEADLINE_MEASURE, tok, n_perm=n_perm)
    cov, note = covariate_table(sorted(tok["language"]), tok)
    table = cov.reset_index()
    extra = [c for c in tok.columns if c not in table.columns]
    table = table.merge(tok[[*extra, "language"]], on="language", how="left")
    table["note"] = note
    out.mkdir(parents=True, exist_ok=True)
    conf.to_csv(out / "p6-confounds.csv", index=False)
    table.to_csv(out / "p6-covariates.csv", index=False)


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    main(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))
