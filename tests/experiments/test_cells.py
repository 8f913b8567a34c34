"""What the cell runners put into their rows."""

from __future__ import annotations

import shutil
from pathlib import Path

from crossling.analysis.frames import similarity_frame
from crossling.experiments.cells import run_similarity_cell, run_similarity_ft_cell


def test_finetuned_similarity_rows_carry_task_seed_and_cell_as_fields(tiny_bert: Path,
                                                                      ud_dir: Path,
                                                                      tmp_path: Path) -> None:
    """The analysis groups by these fields; it used to parse them from the provenance or from
    the encoder name this runner mints (``<model>+<task>-seed<N>``)."""
    shutil.copytree(tiny_bert, tmp_path / "ft-cell" / "encoder")  # "the fine-tuned encoder"
    params = {"model": str(tiny_bert), "ud": str(ud_dir), "source": "en", "languages": ["fr"],
              "n": 12, "measures": ["linear_cka"], "pooling": "mean", "n_boot": 0,
              "n_null": 0, "task": "pos", "seed": 1, "finetune": "ft-cell"}
    (tmp_path / "sim").mkdir()
    rows, prov = run_similarity_ft_cell(params, tmp_path / "sim")
    assert {r.kind for r in rows} == {"cross-lingual", "model-model"}
    assert {(r.task, r.seed, r.finetune_cell) for r in rows} == {("pos", 1, "ft-cell")}
    assert prov["task"] == "pos"  # the cell's provenance keeps the tag too
    assert {r.reinit for r in rows} == {"REF"}  # no "reinit" param: a REF model
    pre, _ = run_similarity_cell(params, tmp_path / "sim")
    assert {(r.task, r.seed, r.finetune_cell) for r in pre} == {(None, None, None)}
    frame = similarity_frame([*pre, *rows])
    assert frame["finetuned"].tolist() == [False] * len(pre) + [True] * len(rows)
    assert frame["reinit"].isna().tolist() == [True] * len(pre) + [False] * len(rows)
    assert set(frame["reinit"].dropna()) == {"REF"}


def test_similarity_cell_with_layer_difference(tiny_bert: Path, ud_dir: Path,
                                               tmp_path: Path) -> None:
    params = {"model": str(tiny_bert), "ud": str(ud_dir), "source": "en", "languages": ["fr"],
              "n": 12, "measures": ["linear_cka"], "pooling": "mean", "n_boot": 5,
              "n_null": 0, "layer_difference": True}
    rows, _ = run_similarity_cell(params, tmp_path)
    (fall,) = [r for r in rows if r.kind == "layer-difference"]
    assert (fall.target, fall.metric, fall.compare_layer) == ("fr", "linear_cka", 4)
    assert len(rows) == 5 + 1  # embeddings + 4 blocks, and the difference
    assert len(similarity_frame(rows)) == len(rows)
