"""``finetune`` cells: one (task, re-init group, seed) run, scored on the source and targets."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from crossling.data.specs import DataFolders, resolve_spec
from crossling.experiments.cell import Cell, CellParams, Grid, Outcome
from crossling.experiments.config import Study, TaskSpec
from crossling.results import ScoreRow, SimilarityRow
from crossling.training.finetune import AS_EVAL, SourceLimit, source_limit
from crossling.training.loop import TrainConfig, config_identity, resolved_config

KIND = "finetune"
OUTPUTS = ("encoder",)
"""Folders of a cell that later cells read (through the artifact store, when there is one)."""


@dataclass(frozen=True)
class Params(CellParams):
    task: str
    reinit: str
    scheme: str
    seed: int
    training: TrainConfig
    max_train_sentences: int | None
    max_eval_sentences: int | None
    model: str
    source: str
    """The language of the source test set (the task's ``test``)."""
    train: list[str]
    dev: list[str]
    evals: dict[str, str]
    """Test files by language, the source's first."""
    save_model: bool = False
    """Keep the encoder: a later cell reads it."""
    max_source_sentences: SourceLimit = AS_EVAL
    """Sentences of the source test set (None: all; `AS_EVAL`: ``max_eval_sentences``)."""

    @property
    def source_sentences(self) -> int | None:
        return source_limit(self.max_source_sentences, self.max_eval_sentences)

    def identity(self) -> dict[str, Any]:
        # the source's own limit only when it differs: earlier cells keep their keys
        own = {"max_source_sentences": self.source_sentences} \
            if self.source_sentences != self.max_eval_sentences else {}
        return {"task": self.task, "reinit": self.reinit, "scheme": self.scheme,
                "seed": self.seed, "training": config_identity(self.training),
                "max_train_sentences": self.max_train_sentences,
                "max_eval_sentences": self.max_eval_sentences, **own,
                "eval": sorted(self.evals)}

    def to_dict(self) -> dict[str, Any]:
        return {**self.identity(), "model": self.model, "source": self.source,
                "save_model": self.save_model, "train": self.train, "dev": self.dev,
                "evals": self.evals}

    def label(self) -> str:
        return f"finetune {self.task} reinit={self.reinit} seed={self.seed}"

    def cost(self) -> float:
        """~3 forward-equivalents per training sentence per epoch, one per evaluated one."""
        n_train = self.max_train_sentences or 12_000
        n_eval = (self.max_eval_sentences or 1000) * len(self.evals) + \
            (self.source_sentences or 1000)
        return 3 * n_train * self.training.epochs + n_eval

    def output_read(self) -> Params:
        return replace(self, save_model=True)


def expand(study: Study, grid: Grid) -> list[Cell]:
    cells = []
    for task in study.tasks:
        roles, evals = _files(task, DataFolders(grid.ud, grid.ner))
        for group in study.task_reinit(task):
            for seed in study.seeds:
                params = Params(
                    task=task.name, reinit=group, scheme=study.reinit_scheme, seed=seed,
                    training=resolved_config(study.task_training(task)),
                    max_train_sentences=task.max_train_sentences,
                    max_eval_sentences=task.max_eval_sentences,
                    max_source_sentences=task.max_source_sentences, model=study.model,
                    source=task.test, train=[str(f) for f in roles["train"]],
                    dev=[str(f) for f in roles["dev"]],
                    evals={lang: str(f) for lang, f in evals.items()})
                cells.append(Cell(grid.key(KIND, params, roles), KIND, params))
    return cells


def _files(task: TaskSpec, folders: DataFolders) -> tuple[dict[str, Any], dict[str, Path]]:
    """The task's files by role (train and dev lists, the source's test file, the targets'),
    and the test files by language, the source's first."""
    evals = {lang: resolve_spec(task.name, lang, "test", folders)
             for lang in [task.test, *task.eval]}
    roles = {"train": [resolve_spec(task.name, s, "train", folders) for s in task.train],
             "dev": [resolve_spec(task.name, s, "dev", folders) for s in task.dev],
             "test": {task.test: evals[task.test]},
             "eval": {lang: evals[lang] for lang in task.eval}}
    return roles, evals


def run(params: Params, workdir: Path) -> Outcome:
    """Train and score one run: its score rows, then its relative weight change per block
    (``weight-change`` similarity rows, naming their run by this cell's key)."""
    from crossling.data.leakage import check_files_overlap
    from crossling.data.specs import TaskFiles
    from crossling.workflows.finetune import FinetuneJob, FinetuneSettings, run_finetune_rows

    check_files_overlap(params.task, {"train": params.train, "dev": params.dev},
                        params.evals)  # before the model loads
    # a finished run whose encoder was not kept, now read by a later cell: trained again
    redo = params.save_model and (workdir / "scores.json").is_file() and \
        not (workdir / "encoder").is_dir()
    settings = FinetuneSettings(
        task=params.task, model=params.model, reinit=params.reinit, reinit_scheme=params.scheme,
        seed=params.seed, training=params.training,
        max_train_sentences=params.max_train_sentences,
        max_eval_sentences=params.max_eval_sentences,
        max_source_sentences=params.source_sentences, save_model=params.save_model)
    files = TaskFiles(train=[Path(f) for f in params.train], dev=[Path(f) for f in params.dev],
                      source=params.source,
                      evals={lang: Path(f) for lang, f in params.evals.items()})
    scores, changes = run_finetune_rows(FinetuneJob(settings, files, workdir), progress=False,
                                        overwrite=redo)
    rows: list[SimilarityRow | ScoreRow] = [
        *scores, *(replace(r, finetune_cell=workdir.name) for r in changes)]
    return rows, scores[0].provenance if scores else {}
