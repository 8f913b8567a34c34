"""A non-finite loss, gradient, weight or model output fails the run at its step, and nothing of
it is kept as finished (it used to train on, save an all-NaN model and report scores)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from crossling.core.errors import DivergenceError
from crossling.data.conllu import read_conllu
from crossling.data.example import Example, examples_from_ud
from crossling.data.resolve import resolve_ud
from crossling.models.encoder import load_encoder
from crossling.training.loop import FitOptions, TaskModel, TrainConfig, evaluate, fit
from crossling.training.tasks import get_task
from crossling.training.tasks.base import IGNORE, cross_entropy

CONFIG = TrainConfig(epochs=2, batch_size=2, device="cpu", max_length=64, patience=5)


def _setup(model_dir: Path, fixture_dir: Path, task_name: str = "pos",
           ) -> tuple[Any, Any, Any, list[str], list[Example]]:
    task = get_task(task_name)
    examples = examples_from_ud(read_conllu(resolve_ud(fixture_dir / "ud", "en")), task_name)
    enc = load_encoder(str(model_dir), device="cpu")
    labels = task.labels_from(examples)
    torch.manual_seed(0)  # the same head each time: a rerun is the same fit
    return task, enc, task.build_model(enc.model, labels), labels, examples


def _fit(model_dir: Path, fixture_dir: Path, out: Path, config: TrainConfig = CONFIG,
         task: Any = None) -> Any:
    real, enc, model, labels, examples = _setup(model_dir, fixture_dir)
    return fit(TaskModel(task or real, model, enc.tokenizer, labels), examples, examples, config,
               out, FitOptions(progress=False))


def test_a_huge_learning_rate_fails_at_its_step_and_nothing_is_finished(
        fixture_bert: Path, fixture_dir: Path, tmp_path: Path) -> None:
    config = TrainConfig(**{**CONFIG.__dict__, "lr": 1e30, "head_lr": 1e30})
    with pytest.raises(DivergenceError) as info:
        _fit(fixture_bert, fixture_dir, tmp_path, config)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith("pos: training diverged at epoch 1/2, step 2/4: loss is nan")
    assert "lr 1e+30" in msg
    assert not (tmp_path / "fit.json").exists() and not (tmp_path / "best.pt").exists()
    # a rerun is the same run, not a finished one: it fails again, it never returns a result
    with pytest.raises(DivergenceError):
        _fit(fixture_bert, fixture_dir, tmp_path, config)


class _Patched:
    """The pos task with its loss changed from step ``at`` on (counted over calls)."""

    def __init__(self, change: Any, at: int) -> None:
        self.real, self.change, self.at, self.calls = get_task("pos"), change, at, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def loss(self, model: torch.nn.Module, batch: Any) -> torch.Tensor:
        self.calls += 1
        loss = self.real.loss(model, batch)
        return self.change(model, loss) if self.calls >= self.at else loss


def test_a_nan_loss_in_the_second_epoch_keeps_nothing_finished(
        fixture_bert: Path, fixture_dir: Path, tmp_path: Path) -> None:
    task = _Patched(lambda model, loss: loss * float("nan"), at=6)
    with pytest.raises(DivergenceError, match=r"epoch 2/2, step 2/4: loss is nan"):
        _fit(fixture_bert, fixture_dir, tmp_path, task=task)
    assert not (tmp_path / "fit.json").exists()


def test_a_finite_but_exploding_loss_is_divergence_too(
        fixture_bert: Path, fixture_dir: Path, tmp_path: Path) -> None:
    """lr 1e3 on e5 trained to a finite loss of ~3e7 and reported 0.00 accuracy with a
    zero-width interval: a loss 1000 times the first step's is a diverged run."""
    task = _Patched(lambda model, loss: loss * 1e4, at=3)
    with pytest.raises(DivergenceError, match=r"epoch 1/2, step 3/4: loss is \S+, over 1000 "
                                              r"times the first step's \S+ \(lr"):
        _fit(fixture_bert, fixture_dir, tmp_path, task=task)
    assert not (tmp_path / "fit.json").exists()
    task = _Patched(lambda model, loss: loss * 50, at=3)  # a bad step, not a diverged run
    assert _fit(fixture_bert, fixture_dir, tmp_path / "ok", task=task).history


def test_a_non_finite_gradient_fails_before_the_update(
        fixture_bert: Path, fixture_dir: Path, tmp_path: Path) -> None:
    """A finite loss whose gradient is not (d sqrt(x)/dx at 0 is infinite): no NaN step."""
    def nan_gradient(model: torch.nn.Module, loss: torch.Tensor) -> torch.Tensor:
        return loss + torch.sqrt(next(model.parameters()).sum() * 0)

    task = _Patched(nan_gradient, at=3)
    with pytest.raises(DivergenceError, match=r"epoch 1/2, step 3/4: gradient norm is nan"):
        _fit(fixture_bert, fixture_dir, tmp_path, task=task)
    assert not (tmp_path / "fit.json").exists()


def test_non_finite_weights_after_an_epoch_are_not_kept(
        fixture_bert: Path, fixture_dir: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An update can overflow the weights though the step's loss and gradient were finite."""
    real_step = torch.optim.AdamW.step

    def overflowing_step(self: torch.optim.Optimizer, *a: Any, **k: Any) -> Any:
        out = real_step(self, *a, **k)  # type: ignore[arg-type]
        with torch.no_grad():
            self.param_groups[0]["params"][0].fill_(float("inf"))
        return out

    monkeypatch.setattr(torch.optim.AdamW, "step", overflowing_step)
    config = TrainConfig(**{**CONFIG.__dict__, "epochs": 1, "batch_size": 8})
    with pytest.raises(DivergenceError, match=r"in epoch 1/1: weight \S+ is not finite"):
        _fit(fixture_bert, fixture_dir, tmp_path, config)
    assert not (tmp_path / "fit.json").exists() and not (tmp_path / "best.pt").exists()


def test_non_finite_outputs_are_no_score(fixture_bert: Path, fixture_dir: Path) -> None:
    """NaN logits have an argmax all the same: they were scored as predictions (~5%)."""
    task, enc, model, labels, examples = _setup(fixture_bert, fixture_dir)
    with torch.no_grad():
        next(p for n, p in model.named_parameters() if "encoder" not in n).fill_(float("nan"))
    with pytest.raises(DivergenceError, match=r"^evaluate en: the model's outputs are not "
                                              r"finite"):
        evaluate(TaskModel(task, model, enc.tokenizer, labels), examples, CONFIG,
                 desc="evaluate en")


@pytest.mark.parametrize("task_name", ["pos", "parsing"])
def test_a_batch_without_targets_has_a_zero_loss_not_nan(
        task_name: str, fixture_bert: Path, fixture_dir: Path) -> None:
    """Every word unseen (e.g. only soft hyphens) or every arc unscorable: no target, and a
    mean over none was NaN, which poisoned every weight (and now would fail the run)."""
    task, enc, model, labels, examples = _setup(fixture_bert, fixture_dir, task_name)
    batch = task.collate(enc.tokenizer, examples[:2], labels, 64)
    batch.labels.fill_(IGNORE)
    if batch.heads is not None:
        batch.heads.fill_(IGNORE)
    loss = task.loss(model, batch)
    assert float(loss.detach()) == 0.0
    loss.backward()  # still part of the graph: the training step runs as usual
    scores = torch.randn(4, 3)
    targets = torch.tensor([0, IGNORE, 2, 1])
    assert torch.equal(cross_entropy(scores, targets), torch.nn.functional.cross_entropy(
        scores, targets, ignore_index=IGNORE))
