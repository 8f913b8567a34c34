"""A tiny study with re-init groups measured after fine-tuning, seed pairs and weight change,
run end to end on the tiny BERT (local executor), and its report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from crossling.experiments.kinds import KINDS
from crossling.experiments.store import ResultStore
from crossling.experiments.workflows import run_study, study_report
from crossling.similarity import extract


@pytest.mark.slow
def test_a_study_with_seed_pairs_and_reinit_groups_runs(tiny_bert: Path, data_dir: Path,
                                                        tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    study = tmp_path / "study.yaml"
    study.write_text(
        f"name: new-cells\nmodel: {tiny_bert}\ndata: {{ud: {data_dir / 'ud'}}}\n"
        "tasks:\n  pos: {train: [en_ewt], dev: [en_ewt], test: en, eval: [fr],\n"
        "        max_train_sentences: 16, max_eval_sentences: 8}\n"
        "reinit: [REF, 1-2]\nseeds: [0, 1]\n"
        "training: {epochs: 1, batch_size: 8, max_length: 64}\n"
        "similarity: {languages: [fr, de], measures: [linear_cka], n: 14, n_boot: 2,\n"
        "             n_null: 2, after: [REF, 1-2], after_n: 12, after_languages: [fr],\n"
        "             seed_pairs: true}\n", encoding="utf-8")
    calls: list[tuple[str, str]] = []  # (cell kind running, encoder) per encoder pass
    running = {"kind": ""}
    real_extract = extract.extract

    def counting(encoder: Any, *a: Any, **k: Any) -> Any:
        calls.append((running["kind"], encoder.name))
        return real_extract(encoder, *a, **k)

    monkeypatch.setattr(extract, "extract", counting)
    for kind, module in KINDS.items():
        def tracked(params: Any, workdir: Path, _k: str = kind, _r: Any = module.run) -> Any:
            running["kind"] = _k
            return _r(params, workdir)
        monkeypatch.setattr(module, "run", tracked)

    store_path = tmp_path / "store.sqlite"
    outcome = run_study(study, store=store_path)
    assert outcome.failed == [] and outcome.counts == {"done": 1 + 4 + 4 + 1}
    # the seed-pair cell encodes nothing: its models' vectors were cached by similarity_ft
    assert [c for c in calls if c[0] == "similarity_seeds"] == []
    assert any(c[0] == "similarity_ft" for c in calls)

    store = ResultStore(store_path)
    sims = store.similarity_rows()
    seeds = [r for r in sims if r.kind == "seed-seed"]
    assert seeds and {(r.task, r.seed, r.compare_seed, r.reinit) for r in seeds} == \
        {("pos", 0, 1, "REF")}
    assert {r.target for r in seeds} == {"en", "fr"} and {r.n for r in seeds} == {12}
    tuned = [r for r in sims if r.kind in ("cross-lingual", "model-model") and r.task]
    assert {r.reinit for r in tuned} == {"REF", "1-2"} and {r.n for r in tuned} == {12}
    pre = [r for r in sims if r.kind == "cross-lingual" and r.task is None]
    assert {r.n for r in pre} == {14} and {r.reinit for r in pre} == {None}
    changes = [r for r in sims if r.kind == "weight-change"]
    assert {(r.reinit, r.seed) for r in changes} == {(g, s) for g in ("REF", "1-2")
                                                     for s in (0, 1)}
    assert all(r.finetune_cell for r in changes)
    # save_model only for the cells whose encoder a later cell read
    folders = {c["params"]["reinit"]: (tmp_path / "cells" / c["key"] / "encoder").is_dir()
               for c in store.cells() if c["kind"] == "finetune" and c["params"]["seed"] == 1}
    assert folders == {"REF": True, "1-2": True}
    # the report still builds (REF curves only in its fine-tuned analyses)
    report = study_report(study, store=store_path, out=tmp_path / "report")
    assert (report.out / "report.md").is_file()
    # resumed: nothing runs again
    calls.clear()
    assert run_study(study, store=store_path).counts == {"done": 10}
    assert calls == []
