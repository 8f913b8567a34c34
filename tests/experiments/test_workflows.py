from __future__ import annotations

from pathlib import Path

import pytest

from crossling.core.errors import ConfigError
from crossling.experiments.executors import RunSettings
from crossling.experiments.workflows import progress_line, run_study


def test_progress_line() -> None:
    assert progress_line({"a": "done", "b": None, "c": "failed"}) == (
        "1/3 cells done (1 failed, 1 pending, 1 not in the store yet (`crossling run` adds "
        "and runs them))")


def test_run_study_refuses_a_bad_executor_or_kind_before_any_work(tmp_path: Path) -> None:
    store = tmp_path / "store" / "results.sqlite"
    with pytest.raises(ConfigError, match="executor must be one of local, ray, got 'slurm'"):
        run_study(tmp_path / "missing.yaml", store=store, settings=RunSettings(executor="slurm"))
    with pytest.raises(ConfigError, match="only 'finetunes'"):
        run_study(tmp_path / "missing.yaml", store=store, only="finetunes")
    assert not store.parent.exists()


def test_a_study_with_a_retrieval_section_runs_and_reports_it(tiny_bert: Path, data_dir: Path,
                                                              tmp_path: Path) -> None:
    """The ``retrieval`` cell runs on a tiny model, shares the vector cache with the similarity
    cell, and the report shows the retrieval section (figure and peak table) beside the
    similarity one, which keeps only the similarity measures."""
    from crossling.experiments.store import ResultStore
    from crossling.experiments.workflows import study_report

    study = tmp_path / "tiny.yaml"
    study.write_text(
        f"name: tiny\nmodel: {tiny_bert}\ndata: {{ud: {data_dir / 'ud'}}}\n"
        "similarity: {languages: [fr, de], n: 12, n_boot: 5, n_null: 5, measures: [linear_cka]}\n"
        "retrieval: {languages: [fr, de], n: 12, n_boot: 20, n_null: 10}\n", encoding="utf-8")
    store = tmp_path / "results.sqlite"
    outcome = run_study(study, store=store)
    assert outcome.counts.get("done") == 2 and not outcome.failed
    rows = ResultStore(store).similarity_rows("tiny")
    ret = [r for r in rows if r.kind == "retrieval"]
    assert len(ret) == 2 * 5 * 3 * 2 and {r.n for r in ret} == {12}
    assert len(list((tmp_path / "cells" / "vectors").glob("*.safetensors"))) == 3  # en, fr, de
    report = study_report(study, store=store, out=tmp_path / "report")
    md = (report.out / "report.md").read_text()
    assert "Parallel sentence retrieval per layer" in md and "retrieval.png" in md
    assert "mean over targets" in md and "peak layer (source→target)" in md
    assert (report.out / "retrieval.png").is_file() and (report.out / "retrieval.csv").is_file()
    assert (report.out / "alignment.png").is_file()
    assert "retrieval_p1" not in md.split("Parallel sentence retrieval")[0]  # not a measure


def test_a_probe_study_runs_resumably_and_reports(tiny_bert: Path, data_dir: Path,
                                                  tmp_path: Path) -> None:
    """The ``probe`` section end to end: one cell, its rows in the store (``layer`` kept), the
    report's probing section; a second run reuses the finished cell."""
    from crossling.experiments.store import ResultStore
    from crossling.experiments.workflows import study_report

    study = tmp_path / "probe.yaml"
    study.write_text(f"name: probe-only\nmodel: {tiny_bert}\ndata: {{ud: {data_dir / 'ud'}}}\n"
                     "probe: {targets: [fr, de], layers: [0, 4], max_train_sentences: 30,\n"
                     "        max_eval_sentences: 10, n_boot: 20}\n", encoding="utf-8")
    store = tmp_path / "run" / "results.sqlite"
    assert run_study(study, store=store).counts == {"done": 1}
    rows = ResultStore(store, readonly=True).score_rows()
    assert {r.layer for r in rows} == {None, 0, 4} and {r.language for r in rows} == \
        {"en", "fr", "de"}
    assert any((tmp_path / "run" / "cells").glob("*/cache/words-*.safetensors"))
    assert run_study(study, store=store, only="probe").counts == {"done": 1}
    report = study_report(study, store=store)
    md = (report.out / "report.md").read_text()
    assert "Layer-wise probing" in md and (report.out / "probe.png").is_file()
    assert "| training sentences | 30 |" in md and "| L2 penalty | 0.0001 |" in md
    assert "Table 1" not in md  # probing rows are not fine-tuning scores


def test_study_covariates_are_lazy_per_model_and_name_no_local_path(tiny_bert: Path,
                                                                     data_dir: Path,
                                                                     tmp_path: Path) -> None:
    from types import SimpleNamespace

    from crossling.experiments.workflows import study_covariates
    from crossling.models.naming import model_name

    gone = tmp_path / "no-such-model"
    study = SimpleNamespace(similarity=SimpleNamespace(languages=["fr", "zh"]), tasks=["pos"],
                            all_models=(str(tiny_bert), str(gone)), ud=str(data_dir / "ud"),
                            source="en")
    get = study_covariates(study)  # type: ignore[arg-type]
    assert sorted(get) == sorted([model_name(tiny_bert), model_name(gone)])
    frame = get[model_name(tiny_bert)]()
    assert list(frame["language"]) == ["fr", "zh"]
    assert frame.set_index("language").loc["fr", "subword_overlap"] > \
        frame.set_index("language").loc["zh", "subword_overlap"]
    failed = get[model_name(gone)]()
    assert failed.empty and failed.attrs["error"]
    assert str(tmp_path) not in failed.attrs["error"]
    assert study_covariates(SimpleNamespace(similarity=None, tasks=["pos"])) == {}  # type: ignore[arg-type]
