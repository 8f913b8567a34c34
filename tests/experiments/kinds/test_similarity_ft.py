"""What the similarity kinds' runners put into their rows."""

from __future__ import annotations

import shutil
from pathlib import Path

from crossling.analysis.frames import similarity_frame
from crossling.experiments.kinds import similarity, similarity_ft


def test_finetuned_similarity_rows_carry_task_seed_and_cell_as_fields(tiny_bert: Path,
                                                                      ud_dir: Path,
                                                                      tmp_path: Path) -> None:
    """The analysis groups by these fields, not by the provenance or by the encoder name this
    runner mints (``<model>+<task>-seed<N>``)."""
    shutil.copytree(tiny_bert, tmp_path / "ft-cell" / "encoder")  # "the fine-tuned encoder"
    common = {"model": str(tiny_bert), "ud": str(ud_dir), "source": "en", "languages": ["fr"],
              "n": 12, "measures": ["linear_cka"], "pooling": "mean", "n_boot": 0,
              "n_null": 0}
    params = similarity_ft.Params(**common, task="pos", seed=1, finetune="ft-cell")
    (tmp_path / "sim").mkdir()
    rows, prov = similarity_ft.run(params, tmp_path / "sim")
    assert {r.kind for r in rows} == {"cross-lingual", "model-model"}
    assert {(r.task, r.seed, r.finetune_cell) for r in rows} == {("pos", 1, "ft-cell")}
    assert prov["task"] == "pos"  # the cell's provenance keeps the tag too
    assert {r.reinit for r in rows} == {"REF"}  # a REF model by default
    pre, _ = similarity.run(similarity.Params(**common), tmp_path / "sim")
    assert {(r.task, r.seed, r.finetune_cell) for r in pre} == {(None, None, None)}
    frame = similarity_frame([*pre, *rows])
    assert frame["finetuned"].tolist() == [False] * len(pre) + [True] * len(rows)
    assert frame["reinit"].isna().tolist() == [True] * len(pre) + [False] * len(rows)
    assert set(frame["reinit"].dropna()) == {"REF"}


def test_similarity_cell_with_layer_difference(tiny_bert: Path, ud_dir: Path,
                                               tmp_path: Path) -> None:
    params = similarity.Params(model=str(tiny_bert), ud=str(ud_dir), source="en",
                               languages=["fr"], n=12, measures=["linear_cka"], pooling="mean",
                               n_boot=5, n_null=0, layer_difference=True)
    rows, _ = similarity.run(params, tmp_path)
    (fall,) = [r for r in rows if r.kind == "layer-difference"]
    assert (fall.target, fall.metric, fall.compare_layer) == ("fr", "linear_cka", 4)
    assert len(rows) == 5 + 1  # embeddings + 4 blocks, and the difference
    assert len(similarity_frame(rows)) == len(rows)
