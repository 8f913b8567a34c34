"""Training precision: fp32 master weights and optimizer state, bf16 autocast compute."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from crossling.core import precision as prec
from crossling.core.stats import means_within_seed_sd
from crossling.data.conllu import read_conllu
from crossling.data.example import examples_from_ud
from crossling.models.encoder import load_encoder
from crossling.training.loop import (
    LEGACY_FP32,
    FitOptions,
    TaskModel,
    TrainConfig,
    cast_for_evaluation,
    config_identity,
    evaluate,
    fit,
)
from crossling.training.tasks import get_task

CONFIG = TrainConfig(epochs=1, batch_size=8, lr=1e-3, head_lr=3e-3, device="cpu",
                     max_length=64)


def test_fp32_keeps_the_key_it_had_and_bf16_names_itself(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Cell keys and fit manifests: a config resolving to fp32 hashes exactly the dict of the
    ``bf16: true`` field it replaced (stored cells keep their keys), bf16 another one."""
    old = {**{k: v for k, v in CONFIG.__dict__.items() if k != "precision"}, **LEGACY_FP32}
    assert config_identity(CONFIG.replace(precision="fp32")) == old
    monkeypatch.setattr(prec, "cpu_flags", lambda: {"avx2", "fma"})
    assert config_identity(CONFIG) == old  # the default
    auto = CONFIG.replace(precision="auto")
    assert config_identity(auto) == old  # on a CPU without bf16 units
    monkeypatch.setattr(prec, "cpu_flags", lambda: {"avx2", "avx512_bf16"})
    assert config_identity(CONFIG) == old  # fp32 by default, whatever the CPU
    bf16 = config_identity(auto)
    assert bf16["precision"] == "bf16" and "bf16" not in bf16
    assert config_identity(CONFIG.replace(precision="bfloat16")) == bf16


def _setup(model_dir: Path, ud_dir: Path) -> tuple[TaskModel, list, list]:  # type: ignore[type-arg]
    task = get_task("pos")
    sents = read_conllu(ud_dir / "UD_English-PUD" / "en_pud-ud-test.conllu", limit=40)
    train, dev = examples_from_ud(sents[:32], "pos"), examples_from_ud(sents[32:], "pos")
    enc = load_encoder(str(model_dir), device="cpu")
    labels = task.labels_from(train)
    return TaskModel(task, task.build_model(enc.model, labels), enc.tokenizer, labels), \
        train, dev


def test_bf16_computes_in_bf16_and_keeps_fp32_master_weights(
        tiny_bert: Path, ud_dir: Path, tmp_path: Path) -> None:
    tm, train, dev = _setup(tiny_bert, ud_dir)
    seen: set[torch.dtype] = set()
    linear = next(m for m in tm.model.modules() if isinstance(m, torch.nn.Linear))
    hook = linear.register_forward_hook(lambda m, a, out: seen.add(out.dtype))
    config = CONFIG.replace(precision="bf16")
    fit(tm, train, dev, config, tmp_path / "fit", FitOptions(seed=0, progress=False))
    assert seen == {torch.bfloat16}  # the training forwards ran under bf16 autocast
    assert {p.dtype for p in tm.model.parameters()} == {torch.float32}  # the master weights
    seen.clear()
    fp32_scores = evaluate(tm, dev, config.replace(precision="fp32"))
    assert seen == {torch.float32}
    seen.clear()
    cast_for_evaluation(tm.model, config)  # once, for the evaluation after training
    assert {p.dtype for p in tm.model.parameters()} == {torch.bfloat16}
    scores = evaluate(tm, dev, config)
    hook.remove()
    assert seen == {torch.bfloat16}
    # the same trained weights, evaluated in bf16: within a few words of fp32's accuracy
    assert abs(scores["upos_acc"].value - fp32_scores["upos_acc"].value) <= 5.0


def test_fp32_changes_no_weight_dtype(tiny_bert: Path, ud_dir: Path) -> None:
    tm, _, _ = _setup(tiny_bert, ud_dir)
    cast_for_evaluation(tm.model, CONFIG.replace(precision="fp32"))
    assert {p.dtype for p in tm.model.parameters()} == {torch.float32}


def test_seed_means_agree_within_the_seed_to_seed_sd() -> None:
    diff, sd, ok = means_within_seed_sd([80.0, 82.0, 81.0], [81.5, 80.5, 82.5])
    assert diff == pytest.approx(0.5) and sd == pytest.approx(1.0) and ok
    assert not means_within_seed_sd([80.0, 80.2, 80.1], [83.0, 83.1, 82.9])[2]
    with pytest.raises(ValueError, match="two seeds"):
        means_within_seed_sd([1.0], [1.0, 2.0])


@pytest.mark.slow
def test_three_seeds_of_fp32_and_bf16_agree_on_the_tiny_model(
        tiny_bert: Path, ud_dir: Path, tmp_path: Path) -> None:
    """The mechanics of issue 27's equality check: 3 seeds per precision, same data, dev
    accuracy; bf16's mean within the seed-to-seed SD of fp32's (bench/finetune.py runs it on
    the real model)."""
    acc: dict[str, list[float]] = {"fp32": [], "bf16": []}
    for name in acc:
        for seed in range(3):
            tm, train, dev = _setup(tiny_bert, ud_dir)
            config = CONFIG.replace(precision=name, epochs=2)
            fit(tm, train, dev, config, tmp_path / f"{name}{seed}",
                FitOptions(seed=seed, progress=False))
            cast_for_evaluation(tm.model, config)
            acc[name].append(evaluate(tm, dev, config)["upos_acc"].value)
    diff, sd, ok = means_within_seed_sd(acc["fp32"], acc["bf16"])
    assert sd > 0, acc  # seeds differ: the check is not vacuous
    assert ok, (acc, diff, sd)
