"""Exact vocabulary trimming: same logits and scores as the full embedding, full folder saved."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from crossling.core.errors import ModelError
from crossling.data.conllu import read_conllu
from crossling.data.example import examples_from_ud
from crossling.data.resolve import resolve_ud
from crossling.models.encoder import encode_words, load_encoder
from crossling.models.vocab import TrimmedEmbedding, merge_vocabulary, trim_vocabulary
from crossling.training.finetune import load_rows
from crossling.training.loop import FitOptions, TaskModel, TrainConfig, fit, predict
from crossling.training.tasks import get_task
from tests.workflows.runs import finetune_on_files as run_finetune

CONFIG = TrainConfig(epochs=2, batch_size=8, lr=1e-3, head_lr=3e-3, device="cpu",
                     max_length=64, weight_decay=0.1, patience=5)


def _data(ud_dir: Path) -> tuple[list, list, list]:  # type: ignore[type-arg]
    en = read_conllu(resolve_ud(ud_dir, "en"), limit=40)
    fr = read_conllu(resolve_ud(ud_dir, "fr"), limit=16)
    return (examples_from_ud(en[:32], "pos"), examples_from_ud(en[32:], "pos"),
            examples_from_ud(fr, "pos"))


def test_trimmed_forward_equals_full_with_padding(tiny_model: Path, ud_dir: Path) -> None:
    """Bit-identical hidden states on a padded batch (XLM-R derives positions from pad ids)."""
    enc = load_encoder(str(tiny_model), device="cpu")
    train, _, target = _data(ud_dir)
    batch = encode_words(enc.tokenizer, [ex.words for ex in [*train[:3], *target[:3]]], 64)
    assert (batch.inputs["attention_mask"] == 0).any()  # the batch does contain padding
    with torch.inference_mode():
        full = enc.model(**batch.inputs).last_hidden_state
    trimmed = trim_vocabulary(enc.model, enc.tokenizer, [ex.words for ex in train + target], 64)
    assert isinstance(enc.model.get_input_embeddings(), TrimmedEmbedding)
    assert len(trimmed.kept) < enc.model.config.vocab_size
    assert enc.tokenizer.pad_token_id in trimmed.kept.tolist()
    with torch.inference_mode():
        assert torch.equal(enc.model(**batch.inputs).last_hidden_state, full)


def test_unknown_id_raises(tiny_bert: Path, ud_dir: Path) -> None:
    enc = load_encoder(str(tiny_bert), device="cpu")
    train = _data(ud_dir)[0]
    trim_vocabulary(enc.model, enc.tokenizer, [ex.words for ex in train], 64)
    batch = encode_words(enc.tokenizer, [["\u4e2d\u6587\u5b57", "Zzyzx"]], 64)
    kept = set(enc.model.get_input_embeddings().kept.tolist())
    if set(batch.inputs["input_ids"].flatten().tolist()) <= kept:
        pytest.skip("the probe sentence happens to use kept ids only")
    with pytest.raises(ModelError, match="outside the trimmed vocabulary"):
        enc.model(**batch.inputs)
    with pytest.raises(ModelError, match="already trimmed"):
        trim_vocabulary(enc.model, enc.tokenizer, [ex.words for ex in train], 64)


@pytest.mark.slow
def test_training_trimmed_equals_full(tiny_model: Path, ud_dir: Path, tmp_path: Path) -> None:
    """Same logits after two epochs with weight decay and clipping; only never-used rows differ
    (the untrimmed run weight-decays them, the trimmed run leaves them pretrained)."""
    task = get_task("pos")
    train, dev, target = _data(ud_dir)
    labels = task.labels_from(train)
    enc = load_encoder(str(tiny_model), device="cpu")
    pretrained = enc.model.get_input_embeddings().weight.detach().clone()
    torch.manual_seed(0)
    model_full = task.build_model(enc.model, labels)
    model_trim = copy.deepcopy(model_full)
    kept = trim_vocabulary(model_trim.encoder, enc.tokenizer,
                           [ex.words for ex in train + dev + target], CONFIG.max_length).kept
    quiet = FitOptions(progress=False)
    fit(TaskModel(task, model_full, enc.tokenizer, labels), train, dev, CONFIG,
        tmp_path / "full", quiet)
    fit(TaskModel(task, model_trim, enc.tokenizer, labels), train, dev, CONFIG,
        tmp_path / "trim", quiet)
    batch = task.collate(enc.tokenizer, target, labels, CONFIG.max_length)
    with torch.inference_mode():
        model_full.eval()
        model_trim.eval()
        logits_full = model_full(batch.words.inputs, batch.words.first_subword)
        logits_trim = model_trim(batch.words.inputs, batch.words.first_subword)
    # equal up to float summation order in the clipping norm (a zero-padded reduction)
    torch.testing.assert_close(logits_trim, logits_full, rtol=1e-4, atol=1e-5)
    preds = [predict(TaskModel(task, m, enc.tokenizer, labels), target, CONFIG)
             for m in (model_full, model_trim)]
    assert preds[0] == preds[1]
    assert merge_vocabulary(model_trim.encoder)
    assert not merge_vocabulary(model_trim.encoder)  # already full
    w_trim = model_trim.encoder.get_input_embeddings().weight.detach()
    w_full = model_full.encoder.get_input_embeddings().weight.detach()
    torch.testing.assert_close(w_trim[kept], w_full[kept], rtol=1e-4, atol=1e-6)
    untouched = torch.ones(len(w_full), dtype=torch.bool)
    untouched[kept] = False
    assert torch.equal(w_trim[untouched], pretrained[untouched])  # the stated difference
    assert not torch.equal(w_full[untouched], pretrained[untouched])  # decayed there


def test_run_finetune_scores_equal_and_saved_folder_is_full(tiny_xlmr: Path, ud_dir: Path,
                                                            tmp_path: Path) -> None:
    config = TrainConfig(epochs=1, batch_size=8, lr=1e-3, device="cpu", max_length=64)
    evals = {"en": resolve_ud(ud_dir, "en"), "fr": resolve_ud(ud_dir, "fr")}
    train = resolve_ud(ud_dir, "en_ewt", "dev")
    rows = {}
    for trim in (False, True):
        rows[trim] = run_finetune("pos", str(tiny_xlmr), [train], [train], evals,
                                  tmp_path / str(trim), seed=0, training=config,
                                  max_train_sentences=24, max_eval_sentences=10,
                                  trim_vocab=trim)
    assert [(r.language, r.value, r.ci_low, r.ci_high) for r in rows[True]] == \
        [(r.language, r.value, r.ci_low, r.ci_high) for r in rows[False]]
    assert rows[True] == load_rows(tmp_path / "True" / "scores.json")
    saved = load_encoder(str(tmp_path / "True" / "encoder"), device="cpu")
    reference = load_encoder(str(tmp_path / "False" / "encoder"), device="cpu")
    vocab = saved.model.config.vocab_size
    assert vocab == reference.model.config.vocab_size == len(saved.tokenizer)
    w = saved.model.get_input_embeddings().weight
    assert w.shape[0] == vocab
    # trained rows equal the untrimmed run's; the pretrained-only ones differ by weight decay
    torch.testing.assert_close(w, reference.model.get_input_embeddings().weight,
                               rtol=1e-3, atol=1e-5)


@pytest.mark.slow
def test_e5_cell_scores_equal_trimmed_and_full(e5_model_dir: Path, ud_dir: Path,
                                               tmp_path: Path) -> None:
    """A short real cell (multilingual-e5-small, 32 sentences, 1 epoch, lr 1e-4, weight decay):
    every score and CI equal with and without trimming."""
    config = TrainConfig(epochs=1, batch_size=16, lr=1e-4, head_lr=1e-3, device="cpu",
                         max_length=128)
    evals = {lang: resolve_ud(ud_dir, lang) for lang in ("en", "de", "zh")}
    train = resolve_ud(ud_dir, "en_ewt", "train")
    rows = {trim: run_finetune("pos", str(e5_model_dir), [train], [train], evals,
                               tmp_path / str(trim), seed=0, training=config,
                               max_train_sentences=32, max_eval_sentences=12,
                               save_model=False, trim_vocab=trim, encoded_cache=False)
            for trim in (False, True)}
    assert [(r.language, r.value, r.ci_low, r.ci_high) for r in rows[True]] == \
        [(r.language, r.value, r.ci_low, r.ci_high) for r in rows[False]]
