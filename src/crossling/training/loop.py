"""The training loop: fit a task head + encoder on the source language with early stopping.

Recipe (BERT fine-tuning as in the paper, with the usual hygiene): AdamW without weight decay on
biases and LayerNorms, linear warm-up then linear decay, gradient clipping, length-bucketed
batches with dynamic padding, bf16 autocast on CUDA, evaluation on the source dev set after each
epoch and early stopping on the task's main metric. Seeds fix Python, NumPy and torch, so the
same seed gives identical results on the CPU (tested).

Everything written is atomic. ``fit.json`` is written last: if it exists the run is complete and
``fit`` returns it without retraining; otherwise a per-epoch checkpoint (``last.pt``: weights,
optimiser, scheduler, epoch, history) lets an interrupted run resume at the last finished epoch.
Both are reused only by the same fit: the folder's ``manifest.json``
(:mod:`crossling.core.manifest`) records the recipe, seed, labels, data and starting weights,
and another fit in the same folder is refused instead of resuming someone else's checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import time
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from crossling.core.atomic import atomic_path, write_json
from crossling.core.checks import check_seed
from crossling.core.devices import pick_device
from crossling.core.errors import DivergenceError, SettingError
from crossling.core.manifest import claim_folder, make_manifest
from crossling.data.batching import bucket_batches
from crossling.models.config import usable_positions
from crossling.models.encoder import model_fingerprint
from crossling.training.encoded import encoded_lengths
from crossling.training.task import Example, Score, Task

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one fine-tuning run (recorded with its results)."""

    epochs: int = 3
    batch_size: int = 32
    lr: float = 5e-5
    head_lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_grad_norm: float = 1.0
    patience: int = 2
    max_length: int = 256
    eval_batch_size: int = 64
    bf16: bool = True  # on CUDA only
    device: str | None = None

    def __post_init__(self) -> None:
        """Refuse a recipe that cannot train before anything is loaded: the one rule for the
        CLI, the Python API and studies (:data:`TRAINING_RANGES`).

        Without this, ``batch_size=0`` crashed deep in batching, ``epochs=0`` "finished" an
        untrained model, a negative learning rate trained away from the optimum and
        ``max_length=2`` left no room for a word (every score 0).
        """
        for name, rule in TRAINING_RANGES.items():
            problem = rule.problem(getattr(self, name))
            if problem:
                raise SettingError(name, problem, f"training setting {_option(name)} {problem}")
        if not isinstance(self.bf16, bool):
            raise SettingError("bf16", f"must be true or false, got {self.bf16!r}",
                               f"training setting bf16 must be true or false, got {self.bf16!r}")
        if self.device is not None and not isinstance(self.device, str):
            raise SettingError("device", f"must be a device name, got {self.device!r}",
                               f"training setting device must be a device name, got "
                               f"{self.device!r}")


@dataclass(frozen=True)
class Range:
    """The valid values of a numeric setting: ``kind`` (int: no float or bool; float: any
    finite int or float), at least ``low`` (above it when ``exclusive``), at most ``high``."""

    kind: type
    low: float
    exclusive: bool = False
    high: float | None = None

    def problem(self, value: Any) -> str | None:
        """What is wrong with ``value`` (``must be ...``), or None when it is valid."""
        bound = f"> {self.low:g}" if self.exclusive else f">= {self.low:g}"
        if self.high is not None:
            bound = f"in {'(' if self.exclusive else '['}{self.low:g}, {self.high:g}]"
        if self.kind is int:
            if isinstance(value, bool) or not isinstance(value, int):
                return f"must be an integer {bound}, got {value!r}"
        elif isinstance(value, bool) or not isinstance(value, int | float) \
                or not math.isfinite(value):
            return f"must be a finite number {bound}, got {value!r}"
        too_low = value <= self.low if self.exclusive else value < self.low
        if too_low or (self.high is not None and value > self.high):
            return f"must be {bound}, got {value!r}"
        return None


TRAINING_RANGES: dict[str, Range] = {
    "epochs": Range(int, 1), "batch_size": Range(int, 1), "eval_batch_size": Range(int, 1),
    # patience 0 stops before the first epoch
    "patience": Range(int, 1),
    # room for [CLS], one sub-word and [SEP]: with less, no word is seen and every score is 0
    "max_length": Range(int, 3),
    "lr": Range(float, 0, exclusive=True), "head_lr": Range(float, 0, exclusive=True),
    # 0 would clip every gradient to zero
    "max_grad_norm": Range(float, 0, exclusive=True),
    "weight_decay": Range(float, 0), "warmup_ratio": Range(float, 0, high=1),
}
"""Valid range of each numeric :class:`TrainConfig` field, checked by ``TrainConfig`` itself
(studies report a violation at the field's path in the study file)."""


def check_max_length(config: TrainConfig, model_config: Any, model: str) -> None:
    """A :class:`SettingError` when ``config.max_length`` exceeds the positions of the model
    whose ``transformers`` config is ``model_config``
    (:func:`~crossling.models.config.usable_positions`)."""
    positions = usable_positions(model_config)
    if positions is not None and config.max_length > positions:
        problem = f"{config.max_length} exceeds the {positions} positions of {model}"
        raise SettingError("max_length", problem,
                           f"training setting {_option('max_length')} {problem}")


def _option(name: str) -> str:
    """``batch_size (--batch-size)``: the study field and, where there is one, the CLI option."""
    cli = {"epochs", "batch_size", "lr", "head_lr", "max_length"}
    return f"{name} (--{name.replace('_', '-')})" if name in cli else name


@dataclass
class FitResult:
    best_epoch: int
    best_dev: dict[str, float]
    history: list[dict[str, Any]] = field(default_factory=list)
    train_seconds: float = 0.0
    train_tokens: int = 0

    @property
    def tokens_per_second(self) -> float:
        return self.train_tokens / self.train_seconds if self.train_seconds else 0.0


def seed_everything(seed: int) -> None:
    """Fix every RNG a run touches (Python, NumPy, torch CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def _device(config: TrainConfig) -> torch.device:
    return pick_device(config.device)


def examples_digest(examples: Sequence[Example]) -> str:
    """SHA-256 of the words and labels of ``examples`` in order (what a fit trains on)."""
    digest = hashlib.sha256()
    for ex in examples:
        digest.update(json.dumps([ex.words, ex.labels, ex.heads]).encode("utf-8"))
    return digest.hexdigest()


def _autocast(device: torch.device, config: TrainConfig) -> Any:
    if device.type == "cuda" and config.bf16:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def subword_lengths(tokenizer: Any, examples: Sequence[Example], max_length: int) -> list[int]:
    """Sub-word count of each example (what padding is about), capped at ``max_length``."""
    stored = encoded_lengths(tokenizer, [e.words for e in examples], max_length)
    if stored is not None:
        return stored
    enc = tokenizer([list(e.words) for e in examples], is_split_into_words=True,
                    truncation=True, max_length=max_length)
    return [len(ids) for ids in enc["input_ids"]]


def _param_groups(model: nn.Module, config: TrainConfig) -> list[dict[str, Any]]:
    groups: dict[tuple[bool, bool], list[nn.Parameter]] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        is_encoder = name.startswith("encoder.")
        no_decay = p.ndim < 2 or "LayerNorm" in name or name.endswith(".bias")
        groups.setdefault((is_encoder, no_decay), []).append(p)
    return [{"params": ps, "lr": config.lr if enc else config.head_lr,
             "weight_decay": 0.0 if nd else config.weight_decay}
            for (enc, nd), ps in sorted(groups.items())]


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW over :func:`_param_groups`, with the fused kernel where torch has one.

    Why fused: multilingual encoders carry a huge embedding matrix (250k x 384 in e5-small, 250k
    x 768 in XLM-R), which AdamW updates in full at every step. The default per-tensor AdamW
    makes about ten passes over that memory; on two CPU cores it took 2.1 s of a 2.2 s training
    step, the fused kernel 0.2 s (torch 2.13). The update rule is the same. torch added fused
    AdamW on CUDA in 2.0 and on the CPU in 2.4: older builds fall back to the default.
    """
    groups = _param_groups(model, config)
    try:
        return torch.optim.AdamW(groups, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.AdamW(groups)


def predict(task: Task, model: nn.Module, tokenizer: Any, labels: Sequence[str],
            examples: Sequence[Example], config: TrainConfig, progress: bool = False,
            desc: str = "predict") -> list[Any]:
    """Predictions for ``examples`` in their order (length-sorted batches, inference mode)."""
    device = next(model.parameters()).device
    lengths = subword_lengths(tokenizer, examples, config.max_length)
    batches = bucket_batches(lengths, config.eval_batch_size, seed=0, shuffle=False)
    out: list[Any] = [None] * len(examples)
    was_training = model.training
    model.eval()
    hook = model.register_forward_hook(_finite_outputs(desc))
    try:
        with torch.inference_mode(), _autocast(device, config), \
                tqdm(batches, desc=desc, disable=not progress, leave=False) as bar:
            for idx in bar:
                batch = task.collate(tokenizer, [examples[i] for i in idx], labels,
                                     config.max_length).to(device)
                for i, pred in zip(idx, task.predict(model, batch, labels), strict=True):
                    out[i] = pred
    finally:
        hook.remove()
        model.train(was_training)
    return out


def _finite_outputs(desc: str) -> Any:
    """A forward hook refusing non-finite model outputs: the argmax of NaN scores is a label
    all the same, and would be scored as a (bad) prediction instead of failing."""
    def check(module: nn.Module, args: Any, output: Any) -> None:
        for t in output if isinstance(output, tuple) else (output,):
            if isinstance(t, torch.Tensor) and t.is_floating_point() and \
                    not bool(torch.isfinite(t).all()):
                raise DivergenceError(f"{desc}: the model's outputs are not finite (NaN or "
                                      "inf): its weights diverged or overflow; no score is "
                                      "reported")
    return check


def evaluate(task: Task, model: nn.Module, tokenizer: Any, labels: Sequence[str],
             examples: Sequence[Example], config: TrainConfig, seed: int = 0,
             progress: bool = False, desc: str = "evaluate") -> dict[str, Score]:
    """Every metric of ``task`` on ``examples``, with bootstrap CIs."""
    preds = predict(task, model, tokenizer, labels, examples, config, progress, desc)
    return task.score(examples, preds, seed=seed)


@dataclass(frozen=True)
class _Step:
    """Where a training step is, to say so when one of its numbers is not finite."""

    task: str
    epoch: int
    epochs: int
    step: int
    steps: int
    config: TrainConfig

    def check(self, what: str, value: float) -> None:
        """A non-finite ``value`` ends the run with a :class:`DivergenceError` before the
        optimiser applies it (a NaN step would silently turn every weight into NaN)."""
        if not math.isfinite(value):
            self.fail(f"{what} is {value}")

    def check_growth(self, loss: float, first: float) -> None:
        """A loss :data:`EXPLODED` times the run's first (untrained) loss, or more, is
        divergence too: its outputs stay finite but predict one label (0% accuracy)."""
        if loss > EXPLODED * max(first, 1.0):
            self.fail(f"loss is {loss:.3g}, over {EXPLODED:g} times the first step's "
                      f"{first:.3g}")

    def fail(self, problem: str) -> None:
        raise DivergenceError(
            f"{self.task}: training diverged at epoch {self.epoch + 1}/{self.epochs}, step "
            f"{self.step + 1}/{self.steps}: {problem} (lr {self.config.lr:g}, head_lr "
            f"{self.config.head_lr:g}); nothing of the run is kept as finished")


EXPLODED = 1e3
"""How many times the first step's loss (at least 1) a loss may reach before the run counts as
diverged: an untrained head's cross-entropy is about ln(labels), and training lowers it."""


def _check_weights(model: nn.Module, task: str, epoch: int, config: TrainConfig) -> None:
    """Refuse to keep an epoch whose weights hold a NaN or an infinity (an update can overflow
    the weights while the step's loss and gradient were finite)."""
    for name, p in model.named_parameters():
        if not bool(torch.isfinite(p).all()):
            raise DivergenceError(
                f"{task}: training diverged in epoch {epoch + 1}/{config.epochs}: weight {name} "
                f"is not finite (lr {config.lr:g}, head_lr {config.head_lr:g}); nothing of the "
                "run is kept as finished")


def fit(task: Task, model: nn.Module, tokenizer: Any, labels: Sequence[str],
        train: Sequence[Example], dev: Sequence[Example], config: TrainConfig,
        out_dir: str | Path, seed: int = 0, progress: bool = True, run_key: str | None = None,
        overwrite: bool = False) -> FitResult:
    """Train ``model`` on ``train``; keep the weights of the best dev epoch (in ``model``).

    Writes ``out_dir/manifest.json`` first, then ``out_dir/best.pt`` (best weights),
    ``out_dir/last.pt`` (resumable state) and, when done, ``out_dir/fit.json``. A completed
    ``out_dir`` is reused, not retrained, and an interrupted one resumed, only if its manifest
    matches this fit: the config, seed, task, labels, training and dev examples, the weights
    ``model`` starts from and ``run_key`` (the caller's own settings key, e.g. the run
    manifest's). Another fit's folder is a ConfigError unless ``overwrite`` (start afresh).
    """
    check_seed(seed)
    out = Path(out_dir)
    device = _device(config)
    manifest = make_manifest("fit", {
        "config": asdict(config), "seed": seed, "task": task.name, "labels": list(labels),
        "train": examples_digest(train), "dev": examples_digest(dev),
        "start_weights": model_fingerprint(model), "run": run_key})
    claim_folder(out, manifest, overwrite=overwrite, known=("fit.json", "best.pt", "last.pt"))
    model.to(device)
    done = out / "fit.json"
    if done.is_file() and (out / "best.pt").is_file():
        model.load_state_dict(torch.load(out / "best.pt", map_location=device))
        return FitResult(**json.loads(done.read_text())["result"])
    seed_everything(seed)
    lengths = subword_lengths(tokenizer, train, config.max_length)
    steps_per_epoch = len(bucket_batches(lengths, config.batch_size, seed, 0))
    total_steps = max(1, steps_per_epoch * config.epochs)
    optimizer = make_optimizer(model, config)
    from transformers import get_linear_schedule_with_warmup

    scheduler = get_linear_schedule_with_warmup(
        optimizer, int(config.warmup_ratio * total_steps), total_steps)
    result = FitResult(best_epoch=-1, best_dev={})
    start_epoch = 0
    last = out / "last.pt"
    if last.is_file():
        state = torch.load(last, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        result = FitResult(**state["result"])
        start_epoch = state["epoch"] + 1
        torch.set_rng_state(state["rng"])
        log.info("resuming %s at epoch %d", out, start_epoch + 1)
    bad_epochs = sum(1 for h in result.history[result.best_epoch + 1:]) if result.history else 0
    trained_last = -1
    first: float | None = None  # the first step's loss, the scale of check_growth
    for epoch in range(start_epoch, config.epochs):
        if bad_epochs >= config.patience:
            break
        model.train()
        batches = bucket_batches(lengths, config.batch_size, seed, epoch)
        t0, tokens, running = time.perf_counter(), 0, 0.0
        # closed on a failure too: its line must not run into the error message
        with tqdm(batches, desc=f"{task.name} epoch {epoch + 1}/{config.epochs}",
                  disable=not progress, leave=False) as bar:
            for step, idx in enumerate(bar):
                batch = task.collate(tokenizer, [train[i] for i in idx], labels,
                                     config.max_length).to(device)
                with _autocast(device, config):
                    loss = task.loss(model, batch)
                loss.backward()
                norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
                # one device sync for both, before the step: a NaN step is never applied
                value, norm_value = torch.stack(
                    [loss.detach().float(), norm.float().to(loss.device)]).tolist()
                where = _Step(task.name, epoch, config.epochs, step, len(batches), config)
                where.check("loss", value)
                where.check("gradient norm", norm_value)
                first = value if first is None else first
                where.check_growth(value, first)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                tokens += int(batch.words.inputs["attention_mask"].sum())
                running = 0.9 * running + 0.1 * value if step else value
                elapsed = time.perf_counter() - t0
                bar.set_postfix(loss=f"{running:.3f}", tok_s=f"{tokens / max(elapsed, 1e-9):.0f}")
        result.train_seconds += time.perf_counter() - t0
        result.train_tokens += tokens
        trained_last = epoch
        _check_weights(model, task.name, epoch, config)
        # Dev passes only where they choose the epoch or stop training (epochs > 1): with one
        # epoch a dev pass would be unused (best_dev stays empty). last.pt only when another
        # epoch follows; best.pt is not reloaded when it is the weights in memory.
        dev_scores = ({k: float(s.value) for k, s in evaluate(
            task, model, tokenizer, labels, dev, config, seed=seed).items()}
            if config.epochs > 1 else {})
        result.history.append({"epoch": epoch, "loss": running, **dev_scores})
        log.info("epoch %d: loss %.4f dev %s", epoch + 1, running, dev_scores or "(not needed)")
        best = result.best_dev.get(task.main_metric, float("-inf"))
        if not dev_scores or dev_scores[task.main_metric] > best:
            result.best_epoch, result.best_dev = epoch, dev_scores
            bad_epochs = 0
            with atomic_path(out / "best.pt") as tmp:
                torch.save(model.state_dict(), tmp)
        else:
            bad_epochs += 1
        if epoch + 1 < config.epochs and bad_epochs < config.patience:
            # resumable state, only when another epoch follows (~3x the weights on disk)
            with atomic_path(last) as tmp:
                torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                            "scheduler": scheduler.state_dict(), "epoch": epoch,
                            "result": asdict(result), "rng": torch.get_rng_state()}, tmp)
    if result.best_epoch != trained_last:  # else the weights in memory are best.pt's
        model.load_state_dict(torch.load(out / "best.pt", map_location=device))
    write_json(done, {"result": asdict(result), "config": asdict(config), "seed": seed})
    last.unlink(missing_ok=True)
    return result
