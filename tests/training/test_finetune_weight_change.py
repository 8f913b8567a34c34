"""Relative weight change per block: from the start of fine-tuning and from the pretrained."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from crossling.data.resolve import resolve_ud
from crossling.data.specs import TaskFiles
from crossling.models.encoder import load_encoder
from crossling.results import SimilarityRow
from crossling.training.finetune import (
    WEIGHT_CHANGE,
    relative_change,
    snapshot_blocks,
    weight_change_rows,
)
from crossling.training.loop import TrainConfig
from crossling.workflows.finetune import (
    FinetuneJob,
    FinetuneSettings,
    run_finetune,
    run_finetune_rows,
)

CONFIG = TrainConfig(epochs=1, batch_size=8, device="cpu", max_length=64)


def _run(tiny_bert: Path, ud_dir: Path, out: Path, group: str,
         ) -> tuple[list, list[SimilarityRow]]:  # type: ignore[type-arg]
    return run_finetune_rows(_job(tiny_bert, ud_dir, out, group), progress=False)


def _job(tiny_bert: Path, ud_dir: Path, out: Path, group: str) -> FinetuneJob:
    train = resolve_ud(ud_dir, "en_ewt", "dev")
    settings = FinetuneSettings(task="pos", model=str(tiny_bert), reinit=group, seed=0,
                                training=CONFIG, max_train_sentences=24, max_eval_sentences=8,
                                save_model=False)
    files = TaskFiles([train], [train], "en",
                      {"en": resolve_ud(ud_dir, "en"), "fr": resolve_ud(ud_dir, "fr")})
    return FinetuneJob(settings, files, out)


def _values(rows: list[SimilarityRow], metric: str) -> dict[int, float]:
    return {r.layer: r.value for r in rows if r.metric == metric}


def test_an_unchanged_block_gives_zero_and_a_changed_one_its_ratio(tiny_bert: Path) -> None:
    model = load_encoder(str(tiny_bert), device="cpu").model
    start = snapshot_blocks(model)
    assert sorted(start) == [0, 1, 2, 3, 4]  # embeddings + 4 blocks
    with torch.no_grad():
        for p in model.encoder.layer[1].parameters():  # block 2 scaled by 1.5
            p.mul_(1.5)
    change = relative_change(model, start)
    assert change[2] == pytest_approx(0.5)
    assert all(change[i] == 0 for i in (0, 1, 3, 4))  # untouched ("frozen") blocks
    rows = weight_change_rows(model, start, {}, source="en", model="m", task="pos", seed=0,
                              reinit="REF")
    assert {r.kind for r in rows} == {"weight-change"} and len(rows) == 10
    stored = [r.record() for r in rows]  # a weight change has no n, pooling or interval
    assert all(d["n"] == 0 and d["pooling"] == "-" and math.isnan(d["ci_low"]) for d in stored)
    assert _values(rows, "rel_change_from_start") == _values(rows, "rel_change_from_pretrained")


def pytest_approx(x: float) -> object:
    import pytest

    return pytest.approx(x, rel=1e-5)


def test_finetune_writes_weight_change_for_ref_and_a_reinit_group(tiny_bert: Path, ud_dir: Path,
                                                                  tmp_path: Path) -> None:
    scores, ref = _run(tiny_bert, ud_dir, tmp_path / "ref", "REF")
    assert {(r.layer, r.metric) for r in ref} == {
        (i, m) for i in range(5) for m in ("rel_change_from_start", "rel_change_from_pretrained")}
    assert {(r.task, r.seed, r.reinit, r.source, r.target) for r in ref} == \
        {("pos", 0, "REF", "en", "en")}
    start = _values(ref, "rel_change_from_start")
    pre = _values(ref, "rel_change_from_pretrained")
    assert all(v > 0 for v in start.values())  # every block trained (embeddings: kept rows)
    assert start == pre  # REF starts from the pretrained weights
    assert all(v < 0.5 for v in start.values())
    # the file, and a finished run returns the same rows; run_finetune keeps its score rows
    saved = json.loads((tmp_path / "ref" / WEIGHT_CHANGE).read_text())
    assert len(saved) == len(ref)
    again_scores, again = _run(tiny_bert, ud_dir, tmp_path / "ref", "REF")
    def key(rows: list[SimilarityRow]) -> list[tuple[object, ...]]:  # NaN != NaN: no ==
        return [(r.kind, r.layer, r.metric, r.value, r.task, r.seed, r.reinit) for r in rows]

    assert key(again) == key(ref) and again_scores == scores
    assert again[0].provenance["manifest_key"] == ref[0].provenance["manifest_key"]
    assert run_finetune(_job(tiny_bert, ud_dir, tmp_path / "ref", "REF"),
                        progress=False) == scores
    # 1-2 re-initialised: those blocks are far from the pretrained weights, the others not
    _, group = _run(tiny_bert, ud_dir, tmp_path / "g", "1-2")
    start = _values(group, "rel_change_from_start")
    pre = _values(group, "rel_change_from_pretrained")
    for i in (1, 2):
        # (LayerNorm weights, reset to the same ones, hold most of a tiny block's norm)
        assert pre[i] > 0.1 and pre[i] > 10 * start[i] > 0
    for i in (0, 3, 4):
        assert pre[i] == start[i]
