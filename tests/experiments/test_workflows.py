from __future__ import annotations

from pathlib import Path

from crossling.data.specs import DataFolders, resolve_spec
from crossling.experiments.workflows import prepare_finetune, progress_line


def test_prepare_finetune_resolves_checks_and_places_the_run(tiny_bert: Path, data_dir: Path,
                                                             tmp_path: Path) -> None:
    """What ``crossling finetune`` decides before training, as one package function."""
    job = prepare_finetune("pos", str(tiny_bert), data=data_dir, evals=["fr"], seed=3,
                           training={"epochs": 2, "device": "cpu"}, out=tmp_path / "run")
    folders = DataFolders.under(data_dir)
    assert job.files.train == [resolve_spec("pos", "en_ewt", "train", folders)]
    assert job.files.dev == [resolve_spec("pos", "en_ewt", "dev", folders)]
    assert list(job.files.evals) == ["en", "fr"] and job.files.source == "en"
    assert job.config.epochs == 2 and job.config.device == "cpu" and job.seed == 3
    assert job.out == tmp_path / "run"
    default = prepare_finetune("pos", str(tiny_bert), data=data_dir, evals=["fr"], seed=3,
                               training={"epochs": 2, "device": "cpu"})
    assert default.out.parent == Path("runs/finetune") and "seed3" in default.out.name


def test_progress_line() -> None:
    assert progress_line({"a": "done", "b": None, "c": "failed"}) == (
        "1/3 cells done (1 failed, 1 pending, 1 not in the store yet (`crossling run` adds "
        "and runs them))")
