"""What ``crossling run`` and ``report`` do, as package functions.

The CLI modules only parse options and print; every decision (where outputs go, which checks
run before any work, how specs become files and a training config) is made here, so a script
or notebook calling these functions gets exactly the command's behaviour.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from crossling.core.errors import ConfigError, ModelError, SettingError
from crossling.core.provenance import git_commit
from crossling.experiments.artifacts import ArtifactStore
from crossling.experiments.cell import Cell
from crossling.experiments.config import Study, load_study
from crossling.experiments.executors import EXECUTORS, RunSettings
from crossling.experiments.grid import expand
from crossling.experiments.kinds import KINDS
from crossling.experiments.kinds import finetune as finetune_kind
from crossling.experiments.store import ResultStore, check_store_file
from crossling.models.names import check_model_name
from crossling.models.naming import model_name

# --- crossling run ---------------------------------------------------------------------------


def default_store(study_path: str | Path, store: str | Path | None) -> Path:
    """``runs/<study name>/results.sqlite`` unless ``--store`` says otherwise."""
    return Path(store) if store else Path("runs") / Path(study_path).stem / "results.sqlite"


def check_output_folder(folder: Path, name: str, label: str = "") -> None:
    """Fail now, with one line naming the argument ``name``, if ``folder`` cannot be created or
    written: a file in the way or a read-only folder would otherwise surface only after the
    work it was meant to keep (hashing the model and data, training, building a report)."""
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        where = "" if existing == folder else f" ({existing} is in the way)"
        raise SettingError(name, f"{label}{folder}: a file, not a folder{where}")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise SettingError(name, f"{label}{folder}: {existing} is not writable")


def check_run_outputs(store_path: Path) -> None:
    """Everything ``crossling run`` writes: the store (an existing file must be a writable
    results store; a 0-byte file is taken as a new one, as SQLite does) and the cells' working
    folders beside it."""
    check_output_folder(store_path.parent, "store", "folder ")
    check_store_file(store_path)
    if store_path.exists() and not os.access(store_path, os.W_OK):
        raise ConfigError(f"{store_path}: results store is read-only")
    check_output_folder(store_path.parent / "cells", "cells", "folder ")


CELL_KINDS = tuple(KINDS)
"""The kinds of study cell (``crossling run --only``)."""


@dataclass
class StudyPlan:
    """A study's cells registered in its store, ready to run (or to list for a dry run)."""

    study: Study
    cells: list[Cell]
    store: ResultStore
    store_path: Path

    def run(self, settings: RunSettings | None = None) -> StudyOutcome:
        """Run the pending cells; counts per status and the failed cells' one-line errors."""
        settings = with_study(settings or RunSettings(), self.study)
        folder = self.store_path.parent / "cells"
        reopen_unsaved_encoders(self.cells, self.store, folder, settings.artifacts)
        counts = EXECUTORS[settings.executor](self.cells, self.store, folder, settings)
        failed = [(str(i["label"]), str(i["error"])) for i in self.store.cells(self.study.name)
                  if i["status"] == "failed"]
        return StudyOutcome(counts=dict(counts), failed=failed,
                            unfinished=unfinished_cells(self.cells, self.store))


def unfinished_cells(cells: Sequence[Cell], store: ResultStore) -> list[tuple[str, str]]:
    """(label, why) of each cell neither done nor failed after a run, so that a run never ends
    with work left without saying what holds it up."""
    status = {c.key: store.status(c.key) for c in cells}
    out = []
    for c in cells:
        if status[c.key] in ("done", "failed"):
            continue
        deps = {d: status.get(d, store.status(d)) for d in c.depends_on}
        if status[c.key] == "running":
            why = "running in another worker (its results land in the store when it ends)"
        elif any(s == "failed" for s in deps.values()):
            why = "waits on a failed cell (fix its error, then run again retrying failed cells)"
        elif any(d not in status and s != "done" for d, s in deps.items()):
            why = "waits on a cell of a kind not selected in this run (run all kinds)"
        else:
            why = "not run (run the study again)"
        out.append((c.label, why))
    return out


@dataclass(frozen=True)
class StudyOutcome:
    """What a run of a study did: cells per status, each failed cell's label and error, and
    each cell left unfinished with the reason."""

    counts: dict[str, int]
    failed: list[tuple[str, str]] = field(default_factory=list)
    unfinished: list[tuple[str, str]] = field(default_factory=list)


def plan_study(study_path: str | Path, *, store: str | Path | None = None,
               data: str | Path | None = None, only: str | None = None,
               precision: str | None = None) -> StudyPlan:
    """Check the outputs (before hashing the model and the data), load and expand the study
    (``precision`` overriding the file's), keep the cells of kind ``only`` if given, and
    register them in the store."""
    store_path = default_store(study_path, store)
    check_run_outputs(store_path)
    study = load_study(study_path, data=data, precision=precision)
    for model in study.all_models:  # a missing model folder, before anything is hashed
        try:
            check_model_name(model, hub=False)
        except ModelError as exc:
            raise ConfigError(f"{study.path}: model: {exc}") from None
    cells = expand(study)
    if only:
        # a cell reads the output of the cells in its ``reads`` (a fine-tuned encoder); its
        # other dependencies only order cells sharing the vector cache, and are dropped with
        # their kind (a selected cell would wait on them forever)
        cells = [replace(c, depends_on=tuple(d for d in c.depends_on if d in c.reads))
                 for c in cells if c.kind == only]
    results = ResultStore(store_path)
    results.add_cells(study.name, cells)
    return StudyPlan(study=study, cells=cells, store=results, store_path=store_path)


def with_study(settings: RunSettings, study: Study) -> RunSettings:
    """``settings`` with the study's execution settings (``resources``, ``artifacts``) where
    ``settings`` leaves them unset."""
    return settings.replace(
        resources=settings.resources if settings.resources is not None else study.resources,
        artifacts=settings.artifacts or study.artifacts)


def reopen_unsaved_encoders(cells: Sequence[Cell], store: ResultStore, folder: Path,
                            artifacts: str | None = None) -> list[str]:
    """Finished fine-tuning cells whose encoder a cell still to run reads, but which did not
    keep it (run before the study measured their models; with an artifact store: not in the
    store): made pending again, so they train again and keep it, instead of their measuring
    cells failing after the rest of the grid ran. Returns their keys."""
    needed = {d for c in cells if store.status(c.key) != "done" for d in c.reads}
    kept = ArtifactStore(artifacts) if artifacts else None
    out = []
    for c in cells:
        if not (isinstance(c.params, finetune_kind.Params) and c.params.save_model and
                c.key in needed):
            continue
        there = kept.has(c.key, "encoder") if kept else (folder / c.key / "encoder").is_dir()
        if not there and store.reopen(c.key):
            out.append(c.key)
    return out


def run_study(study_path: str | Path, *, store: str | Path | None = None,
              data: str | Path | None = None, only: str | None = None,
              settings: RunSettings | None = None) -> StudyOutcome:
    """``crossling run`` as one function call: plan the study's cells (`plan_study`) and
    run the pending ones as ``settings`` say (the ``local`` executor by default, or ``ray``);
    finished cells are kept in the store, so calling it again resumes. Returns the counts per
    status and the failed cells' one-line errors."""
    if only is not None and only not in CELL_KINDS:
        raise ConfigError(f"only {only!r}: must be one of {', '.join(CELL_KINDS)}")
    plan = plan_study(study_path, store=store, data=data, only=only)
    return plan.run(settings)

# --- crossling report ------------------------------------------------------------------------


def progress_line(statuses: Mapping[str, str | None]) -> str:
    """``done/total cells done`` over the cells of the study as it is now, and what the rest
    are; a cell the store has never seen (the study grew since the last run) is pending."""
    done = sum(s == "done" for s in statuses.values())
    missing = sum(s is None for s in statuses.values())
    counts: dict[str, int] = {}
    for s in statuses.values():
        if s != "done":
            counts[s or "pending"] = counts.get(s or "pending", 0) + 1
    parts = [f"{n} {s}" for s, n in sorted(counts.items())]
    if missing:
        parts.append(f"{missing} not in the store yet (`crossling run` adds and runs them)")
    return f"{done}/{len(statuses)} cells done" + (f" ({', '.join(parts)})" if parts else "")


@dataclass(frozen=True)
class StudyReport:
    progress: str
    out: Path
    index: Path


def shown_path(path: str | Path) -> str:
    """``path`` as a report shows it: relative to the working folder when it lies inside it,
    as given when relative, else its name alone (an absolute path names the machine)."""
    p = Path(path)
    if not p.is_absolute():
        return p.as_posix()
    try:
        return p.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return p.name


def run_facts(study: Study, cells: list[dict[str, Any]], progress: str
              ) -> list[tuple[str, str]]:
    """What the generated README says about a run: study, model, cells, recipes, compute
    time, the commits and devices that produced the cells (from the store)."""
    done = [c for c in cells if c["status"] == "done"]
    kinds: dict[str, int] = {}
    for c in done:
        kinds[c["kind"]] = kinds.get(c["kind"], 0) + 1
    spent = sum((c["finished"] or 0) - (c["started"] or 0) for c in done
                if c["finished"] and c["started"])
    span = (max(c["finished"] for c in done if c["finished"]) -
            min(c["started"] for c in done if c["started"])) if done else 0.0
    provs = [c["provenance"] or {} for c in done]
    commits = sorted({str(p.get("git_commit")) for p in provs if p.get("git_commit")})
    devices = sorted({str(p.get("device")) for p in provs if p.get("device")})
    versions = sorted({str(p.get("versions", {}).get("crossling")) for p in provs
                       if p.get("versions", {}).get("crossling")})
    recipe_keys = ("epochs", "batch_size", "lr", "head_lr")
    recipes = "; ".join(
        f"{t.name}: " + ", ".join(f"{k} {v:g}" for k, v in asdict(study.task_training(t)).items()
                                  if k in recipe_keys)
        + f", {t.max_train_sentences or 'all'} training sentences, groups "
        + "; ".join(f"{model_name(m)}: " * (len(study.all_models) > 1)
                    + ", ".join(study.for_model(m).task_reinit(t)) for m in study.all_models)
        for t in study.tasks)
    return [("study", f"{shown_path(study.path)} ({study.name})"),
            ("model" if len(study.all_models) == 1 else "models",
             ", ".join(model_name(m) for m in study.all_models)),
            ("seeds", ", ".join(str(s) for s in study.seeds)),
            ("tasks and recipes", recipes or "none"),
            ("cells", f"{progress}; done by kind: "
                      + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))),
            ("compute", f"{spent / 60:.0f} min summed over cells; {span / 60:.0f} min from the "
                        "first cell's start to the last cell's end"),
            ("code", ", ".join(commits) or "not recorded"),
            # the figures and verdicts may come from a later checkout than the cells' rows
            ("report code", git_commit() or "not recorded"),
            ("crossling", ", ".join(versions) or "not recorded"),
            ("devices", ", ".join(devices) or "not recorded")]


def study_covariates(study: Study) -> dict[str, Any]:
    """Per model name: a function computing the tokenizer covariates of P6 (sub-word overlap
    with the source, script; `crossling.workflows.covariates.pud_covariates`) on the PUD of
    the study's similarity languages, called by the report only when P6 needs them. A model
    whose tokenizer or PUD files cannot be read gets an empty frame whose ``attrs["error"]``
    says why (the report leaves those covariates out and says so)."""
    from functools import partial

    if study.similarity is None or not study.tasks:
        return {}
    return {model_name(m): partial(_model_covariates, study, m) for m in study.all_models}


def _model_covariates(study: Study, model: str) -> Any:
    import pandas as pd

    from crossling.core.errors import DataError
    from crossling.workflows.covariates import COVARIATE_COLUMNS, pud_covariates

    languages = study.similarity.languages if study.similarity is not None else None
    try:
        return pud_covariates(model, study.ud, study.source, languages)
    except (ConfigError, DataError, ModelError, OSError) as exc:
        frame = pd.DataFrame(columns=COVARIATE_COLUMNS)
        frame.attrs["error"] = str(exc).replace(str(model), model_name(model)).replace(
            study.ud, "UD")
        return frame


def study_report(study_path: str | Path, *, store: str | Path | None = None,
                 data: str | Path | None = None, out: str | Path | None = None,
                 measure: str | None = None) -> StudyReport:
    """Markdown + HTML report of a study's finished cells (``out``: default beside the store).

    Everything that can be checked without work is checked first; the store is opened read-only
    (a report never creates or changes one).
    """
    from crossling.report.settings import ReportSettings
    from crossling.report.write import StudyInputs, build_report, check_report_folder
    from crossling.similarity.measures import get_measure

    if measure is not None:
        try:
            get_measure(measure)
        except ConfigError as exc:
            raise SettingError("measure", f"{measure}: {exc}") from None
    store_path = default_store(study_path, store)
    if not store_path.exists():
        raise ConfigError(f"{store_path}: no results store; run `crossling run {study_path}` "
                          "first")
    results = ResultStore(store_path, readonly=True)
    folder = Path(out) if out else store_path.parent / "report"
    check_output_folder(folder, "out")
    check_report_folder(folder, "out")
    study = load_study(study_path, data=data)
    # The cells of the study as it is now, looked up by key (the key, not the study's name,
    # identifies a result: `crossling run` reuses a finished cell whatever study added it).
    keys = [c.key for c in expand(study)]
    known = {c["key"]: c["status"] for c in results.cells()}
    progress = progress_line({k: known.get(k) for k in keys})
    scores = results.score_rows(None, set(keys), sentences=True)
    sims = results.similarity_rows(None, set(keys))
    if not scores and not sims:
        raise ConfigError(f"{store_path}: no finished cells for study {study.name!r} "
                          f"({progress})")
    present = {r.metric for r in sims if r.kind not in ("retrieval", "weight-change")}
    if measure is not None and sims and measure not in present:
        raise SettingError("measure", f"{measure}: not among the store's similarity rows "
                                      f"for this study (present: {', '.join(sorted(present))})")
    cells = [c for c in results.cells() if c["key"] in set(keys)]
    shown = shown_path(study_path)
    command = f"crossling run {shown} --data DATA && crossling report {shown} " \
              f"--data DATA --out {shown_path(folder)}"
    index = build_report(scores, sims, folder, title=f"crossling report: {study.name}",
                         settings=ReportSettings() if measure is None
                         else ReportSettings(measure=measure),
                         study=StudyInputs(command, run_facts(study, cells, progress),
                                           study_covariates(study)))
    return StudyReport(progress=progress, out=folder, index=index)
