"""Each task end to end on a tiny model: re-init, fine-tune, evaluate source and a target."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crossling.data.ner import resolve_ner
from crossling.data.resolve import resolve_ud
from crossling.models.encoder import load_encoder
from crossling.training.finetune import run_finetune
from crossling.training.loop import TrainConfig

CONFIG = TrainConfig(epochs=1, batch_size=8, device="cpu", max_length=64)


@pytest.mark.parametrize("task", ["pos", "parsing"])
def test_ud_tasks_end_to_end(task: str, tiny_bert: Path, ud_dir: Path, tmp_path: Path) -> None:
    train = resolve_ud(ud_dir, "en_ewt", "dev")
    rows = run_finetune(task, str(tiny_bert), [train], [train],
                        {"en": resolve_ud(ud_dir, "en"), "fr": resolve_ud(ud_dir, "fr")},
                        tmp_path, reinit_group="3-4", seed=0, config=CONFIG,
                        max_train_sentences=24, max_eval_sentences=10, progress=False)
    metrics = {"pos": {"upos_acc"}, "parsing": {"uas", "las"}}[task]
    assert {(r.language, r.metric) for r in rows} == {(lang, m) for lang in ("en", "fr")
                                                      for m in metrics}
    for r in rows:
        assert 0 <= r.ci_low <= r.value <= r.ci_high <= 100
        assert r.n_sentences == 10 and r.reinit == "3-4"
        assert r.provenance["reinit"]["layers"] == [3, 4]
        assert any("encoder.layer.2." in k for k in r.provenance["reinit"]["changed"])
        assert len(r.provenance["data"]) == 3
    assert load_encoder(str(tmp_path / "encoder"), device="cpu").num_layers == 4
    saved = json.loads((tmp_path / "scores.json").read_text())
    assert len(saved) == len(rows)
    # a finished run is returned from disk, not recomputed
    assert run_finetune(task, "does-not-matter", [], [], {"x": "y"}, tmp_path) == rows


def test_ner_end_to_end_with_unknown_target_labels(tiny_xlmr: Path, data_dir: Path,
                                                   tmp_path: Path) -> None:
    ner = data_dir / "ner"
    rows = run_finetune("ner", str(tiny_xlmr), [resolve_ner(ner, "en", "dev")],
                        [resolve_ner(ner, "en", "dev")],
                        {"en": resolve_ner(ner, "en"), "de_pud": resolve_ner(ner, "de_pud")},
                        tmp_path, seed=0, config=CONFIG, max_train_sentences=32,
                        max_eval_sentences=12, progress=False)
    f1 = [r for r in rows if r.metric == "span_f1"]
    assert {r.language for r in f1} == {"en", "de_pud"}
    # UNER has no MISC-like extra types here, but the check is recorded either way
    assert "unknown_labels" in rows[0].provenance
