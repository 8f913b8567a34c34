"""A fine-tuning run on resolved files in one call, for the tests that train a tiny model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from crossling.data.specs import TaskFiles
from crossling.results import ScoreRow
from crossling.workflows.finetune import FinetuneJob, FinetuneSettings, run_finetune


def finetune_on_files(task: str, model: str, train: Sequence[str | Path],
                      dev: Sequence[str | Path], evals: Mapping[str, str | Path], out: Path, *,
                      source: str | None = None, overwrite: bool = False,
                      progress: bool = False, encoded_cache: str | Path | bool = True,
                      **settings: Any,
                      ) -> list[ScoreRow]:
    """`run_finetune` of ``FinetuneSettings(task, model, **settings)`` on these files (source:
    the first evaluation set unless given)."""
    files = TaskFiles([Path(f) for f in train], [Path(f) for f in dev],
                      source or next(iter(evals)), {k: Path(v) for k, v in evals.items()})
    job = FinetuneJob(FinetuneSettings(task=task, model=model, **settings), files, Path(out))
    return run_finetune(job, overwrite=overwrite, progress=progress,
                        encoded_cache=encoded_cache)
