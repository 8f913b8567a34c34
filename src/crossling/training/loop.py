"""The training loop: fit a task head + encoder on the source language with early stopping.

BERT fine-tuning with the usual hygiene (AdamW without decay on biases and LayerNorms, linear
warm-up and decay, clipping, length-bucketed batches, a precision (fp32 master weights and
optimizer state; bf16 autocast compute where it is chosen), early stopping on the dev
main metric); seeds make a CPU run reproducible. Writes are atomic: ``fit.json`` last marks a
finished run, ``last.pt`` lets an interrupted one resume, and the folder's manifest ties both to
this fit so that another fit's checkpoint is never resumed.
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
from crossling.core.devices import pick_device
from crossling.core.errors import DivergenceError, SettingError
from crossling.core.manifest import claim_folder, make_manifest
from crossling.core.precision import DEFAULT_PRECISION, precision, resolve_precision, torch_dtype
from crossling.core.settings import (
    Settings,
    count,
    device_name,
    flag,
    number,
    positive,
    seed,
    setting,
)
from crossling.data.batching import bucket_batches
from crossling.data.example import Example
from crossling.models.config import usable_positions
from crossling.models.encoder import model_fingerprint
from crossling.models.words import tokenize_words
from crossling.training.encoded import encoded_lengths
from crossling.training.metrics import Score
from crossling.training.tasks.base import Task

log = logging.getLogger(__name__)


def _train_precision(name: str, value: Any) -> str:
    """A precision (`crossling.core.precision`) training can use: not fp16, which needs loss
    scaling that this loop does not do."""
    value = precision(name, value)
    if value == "fp16":
        raise SettingError(name, "fp16 training needs loss scaling, which crossling does not "
                                 "do; use bf16, fp32 or auto")
    return value


@dataclass(frozen=True)
class TrainConfig(Settings):
    """Hyper-parameters of one fine-tuning run (recorded with its results); one rule per field,
    for the CLI, the Python API and studies (``TrainConfig.from_mapping(data, "training")``)."""

    epochs: int = setting(3, rule=count(1))
    batch_size: int = setting(32, rule=count(1))
    lr: float = setting(5e-5, rule=positive)
    head_lr: float = setting(1e-3, rule=positive)
    weight_decay: float = setting(0.01, rule=number(0.0))
    warmup_ratio: float = setting(0.1, rule=number(0.0, 1.0))
    max_grad_norm: float = setting(1.0, rule=positive)  # 0 would clip every gradient to zero
    patience: int = setting(2, rule=count(1))  # 0 stops before the first epoch
    # room for [CLS], one sub-word and [SEP]: with less no word is seen and every score is 0
    max_length: int = setting(256, rule=count(3))
    eval_batch_size: int = setting(64, rule=count(1))
    precision: str = setting(DEFAULT_PRECISION, rule=_train_precision)
    device: str | None = setting(None, rule=device_name)


def resolved_config(config: TrainConfig) -> TrainConfig:
    """``config`` with its precision resolved for its device (``auto`` -> fp32 or bf16)."""
    return config.replace(precision=resolve_precision(config.precision,
                                                      pick_device(config.device)))


LEGACY_FP32 = {"bf16": True}
"""How keys and manifests named the default precision before it was a setting (bf16 autocast
on CUDA only, fp32 on CPU): fp32 configs still hash it, so stored cells keep their keys."""


def config_identity(config: TrainConfig) -> dict[str, Any]:
    """The config as cell keys and fit manifests hash it: its fields with the precision
    resolved, fp32 written as `LEGACY_FP32`, another precision by name."""
    out = asdict(resolved_config(config))
    resolved = out.pop("precision")
    return {**out, **(LEGACY_FP32 if resolved == "fp32" else {"precision": resolved})}


def check_max_length(config: TrainConfig, model_config: Any, model: str) -> None:
    """A SettingError when ``config.max_length`` exceeds the positions of the model whose
    ``transformers`` config is ``model_config`` (`usable_positions`)."""
    positions = usable_positions(model_config)
    if positions is not None and config.max_length > positions:
        raise SettingError("max_length", f"{config.max_length} exceeds the {positions} "
                                         f"positions of {model}")


@dataclass(frozen=True)
class TaskModel:
    """A task's model with what feeding it and reading its outputs needs."""

    task: Task
    model: nn.Module
    tokenizer: Any
    labels: Sequence[str]


@dataclass(frozen=True)
class FitOptions(Settings):
    """How a fit runs: its seed, progress bars, the caller's settings key (``run_key``, part of
    the folder's manifest) and whether another fit's folder may be emptied (``overwrite``)."""

    seed: int = setting(0, rule=seed)
    progress: bool = setting(True, rule=flag)
    run_key: str | None = None
    overwrite: bool = setting(False, rule=flag)


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


def examples_digest(examples: Sequence[Example]) -> str:
    """SHA-256 of the words and labels of ``examples`` in order (what a fit trains on)."""
    digest = hashlib.sha256()
    for ex in examples:
        digest.update(json.dumps([ex.words, ex.labels, ex.heads]).encode("utf-8"))
    return digest.hexdigest()


def _autocast(device: torch.device, config: TrainConfig, model: nn.Module | None = None) -> Any:
    """bf16 autocast when the config's precision resolves to bf16 on ``device``; nothing for
    fp32, or for a ``model`` whose weights are already cast (`cast_for_evaluation`)."""
    if resolve_precision(config.precision, device) != "bf16":
        return nullcontext()
    first = None if model is None else next(iter(model.parameters()), None)
    if first is not None and first.dtype != torch.float32:
        return nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def cast_for_evaluation(model: nn.Module, config: TrainConfig) -> None:
    """Cast a trained model's weights once to its precision's dtype for the evaluation
    forwards after training (no autocast per call); fp32 changes nothing."""
    device = next(model.parameters()).device
    resolved = resolve_precision(config.precision, device)
    if resolved != "fp32":
        model.to(torch_dtype(resolved))


def subword_lengths(tokenizer: Any, examples: Sequence[Example], max_length: int) -> list[int]:
    """Sub-word count of each example (what padding is about), capped at ``max_length``."""
    stored = encoded_lengths(tokenizer, [e.words for e in examples], max_length)
    if stored is not None:
        return stored
    return [len(r.input_ids) for r in tokenize_words(tokenizer, [e.words for e in examples],
                                                     max_length)]


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
    """AdamW over `_param_groups`, with the fused kernel where torch has one (the same
    update; ten times faster on the huge embedding matrix of multilingual encoders, see
    bench/RESULTS.md); older torch builds fall back to the default kernel."""
    groups = _param_groups(model, config)
    try:
        return torch.optim.AdamW(groups, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.AdamW(groups)


def predict(tm: TaskModel, examples: Sequence[Example], config: TrainConfig,
            progress: bool = False, desc: str = "predict") -> list[Any]:
    """Predictions for ``examples`` in their order (length-sorted batches, inference mode)."""
    model = tm.model
    device = next(model.parameters()).device
    lengths = subword_lengths(tm.tokenizer, examples, config.max_length)
    batches = bucket_batches(lengths, config.eval_batch_size, seed=0, shuffle=False)
    out: list[Any] = [None] * len(examples)
    was_training = model.training
    model.eval()
    hook = model.register_forward_hook(_finite_outputs(desc))
    try:
        with torch.inference_mode(), _autocast(device, config, model), \
                tqdm(batches, desc=desc, disable=not progress, leave=False) as bar:
            for idx in bar:
                batch = tm.task.collate(tm.tokenizer, [examples[i] for i in idx], tm.labels,
                                        config.max_length).to(device)
                for i, pred in zip(idx, tm.task.predict(model, batch, tm.labels), strict=True):
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


def evaluate(tm: TaskModel, examples: Sequence[Example], config: TrainConfig, seed: int = 0,
             progress: bool = False, desc: str = "evaluate") -> dict[str, Score]:
    """Every metric of the task on ``examples``, with bootstrap CIs."""
    preds = predict(tm, examples, config, progress, desc)
    return tm.task.score(examples, preds, seed=seed)


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
        """A non-finite ``value`` ends the run with a `DivergenceError` before the
        optimiser applies it (a NaN step would silently turn every weight into NaN)."""
        if not math.isfinite(value):
            self.fail(f"{what} is {value}")

    def check_growth(self, loss: float, first: float) -> None:
        """A loss `EXPLODED` times the run's first (untrained) loss, or more, is
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


def fit(tm: TaskModel, train: Sequence[Example], dev: Sequence[Example], config: TrainConfig,
        out_dir: str | Path, options: FitOptions | None = None) -> FitResult:
    """Train ``tm.model`` on ``train``; keep the weights of the best dev epoch (in the model).

    Writes ``out_dir/manifest.json`` first, then ``best.pt`` (best weights), ``last.pt``
    (resumable state) and, when done, ``fit.json``. A completed folder is reused, not
    retrained, and an interrupted one resumed, only if its manifest matches this fit: config,
    seed, task, labels, training and dev examples, starting weights and ``options.run_key``.
    Another fit's folder is a ConfigError unless ``options.overwrite`` (start afresh).
    """
    options = options or FitOptions()
    out = Path(out_dir)
    device = pick_device(config.device)
    manifest = make_manifest("fit", {
        "config": config_identity(config), "seed": options.seed, "task": tm.task.name,
        "labels": list(tm.labels), "train": examples_digest(train), "dev": examples_digest(dev),
        "start_weights": model_fingerprint(tm.model), "run": options.run_key})
    claim_folder(out, manifest, overwrite=options.overwrite,
                 known=("fit.json", "best.pt", "last.pt"))
    tm.model.to(device)
    done = out / "fit.json"
    if done.is_file() and (out / "best.pt").is_file():
        tm.model.load_state_dict(torch.load(out / "best.pt", map_location=device))
        return FitResult(**json.loads(done.read_text())["result"])
    seed_everything(options.seed)
    run = _Run(tm, train, dev, config, out, options, device)
    run.train()
    write_json(done, {"result": asdict(run.result), "config": asdict(config),
                      "seed": options.seed})
    run.last.unlink(missing_ok=True)
    return run.result


class _Run:
    """One fit's training state: optimiser, schedule, history, early stopping."""

    def __init__(self, tm: TaskModel, train: Sequence[Example], dev: Sequence[Example],
                 config: TrainConfig, out: Path, options: FitOptions,
                 device: torch.device) -> None:
        from transformers import get_linear_schedule_with_warmup

        self.tm, self.train_set, self.dev, self.config = tm, train, dev, config
        self.out, self.seed, self.progress, self.device = out, options.seed, \
            options.progress, device
        self.lengths = subword_lengths(tm.tokenizer, train, config.max_length)
        steps_per_epoch = len(bucket_batches(self.lengths, config.batch_size, self.seed, 0))
        total_steps = max(1, steps_per_epoch * config.epochs)
        self.optimizer = make_optimizer(tm.model, config)
        self.scheduler = get_linear_schedule_with_warmup(
            self.optimizer, int(config.warmup_ratio * total_steps), total_steps)
        self.result = FitResult(best_epoch=-1, best_dev={})
        self.start_epoch = 0
        self.last = out / "last.pt"
        self.first: float | None = None  # the first step's loss, the scale of check_growth
        self.running = 0.0  # the last epoch's smoothed loss
        if self.last.is_file():
            self._resume()

    def _resume(self) -> None:
        state = torch.load(self.last, map_location=self.device, weights_only=False)
        self.tm.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.result = FitResult(**state["result"])
        self.start_epoch = state["epoch"] + 1
        torch.set_rng_state(state["rng"])
        log.info("resuming %s at epoch %d", self.out, self.start_epoch + 1)

    def train(self) -> None:
        """Every epoch left, until patience runs out; the best epoch's weights end in memory."""
        result, config = self.result, self.config
        bad_epochs = len(result.history[result.best_epoch + 1:]) if result.history else 0
        trained_last = -1
        for epoch in range(self.start_epoch, config.epochs):
            if bad_epochs >= config.patience:
                break
            self._epoch(epoch)
            trained_last = epoch
            _check_weights(self.tm.model, self.tm.task.name, epoch, config)
            bad_epochs = 0 if self._select(epoch) else bad_epochs + 1
            if epoch + 1 < config.epochs and bad_epochs < config.patience:
                self._save_last(epoch)  # resumable state only when another epoch follows
        if result.best_epoch != trained_last:  # else the weights in memory are best.pt's
            self.tm.model.load_state_dict(torch.load(self.out / "best.pt",
                                                     map_location=self.device))

    def _epoch(self, epoch: int) -> None:
        tm, config, model = self.tm, self.config, self.tm.model
        model.train()
        batches = bucket_batches(self.lengths, config.batch_size, self.seed, epoch)
        t0, tokens, running = time.perf_counter(), 0, 0.0
        # closed on a failure too: its line must not run into the error message
        with tqdm(batches, desc=f"{tm.task.name} epoch {epoch + 1}/{config.epochs}",
                  disable=not self.progress, leave=False) as bar:
            for step, idx in enumerate(bar):
                batch = tm.task.collate(tm.tokenizer, [self.train_set[i] for i in idx],
                                        tm.labels, config.max_length).to(self.device)
                with _autocast(self.device, config):
                    loss = tm.task.loss(model, batch)
                loss.backward()
                norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
                # one device sync for both, before the step: a NaN step is never applied
                value, norm_value = torch.stack(
                    [loss.detach().float(), norm.float().to(loss.device)]).tolist()
                where = _Step(tm.task.name, epoch, config.epochs, step, len(batches), config)
                where.check("loss", value)
                where.check("gradient norm", norm_value)
                self.first = value if self.first is None else self.first
                where.check_growth(value, self.first)
                self.optimizer.step()
                self.scheduler.step()
                self.optimizer.zero_grad(set_to_none=True)
                tokens += int(batch.words.inputs["attention_mask"].sum())
                running = 0.9 * running + 0.1 * value if step else value
                elapsed = time.perf_counter() - t0
                bar.set_postfix(loss=f"{running:.3f}", tok_s=f"{tokens / max(elapsed, 1e-9):.0f}")
        self.result.train_seconds += time.perf_counter() - t0
        self.result.train_tokens += tokens
        self.running = running

    def _select(self, epoch: int) -> bool:
        """Record the epoch; True (and ``best.pt`` written) when it is the best so far.

        Dev passes only where they choose the epoch or stop training (epochs > 1): with one
        epoch a dev pass would be unused (best_dev stays empty)."""
        result, main = self.result, self.tm.task.main_metric
        dev_scores = ({k: float(s.value) for k, s in evaluate(
            self.tm, self.dev, self.config, seed=self.seed).items()}
            if self.config.epochs > 1 else {})
        result.history.append({"epoch": epoch, "loss": self.running, **dev_scores})
        log.info("epoch %d: loss %.4f dev %s", epoch + 1, self.running,
                 dev_scores or "(not needed)")
        if dev_scores and not dev_scores[main] > result.best_dev.get(main, float("-inf")):
            return False
        result.best_epoch, result.best_dev = epoch, dev_scores
        with atomic_path(self.out / "best.pt") as tmp:
            torch.save(self.tm.model.state_dict(), tmp)
        return True

    def _save_last(self, epoch: int) -> None:
        with atomic_path(self.last) as tmp:
            torch.save({"model": self.tm.model.state_dict(),
                        "optimizer": self.optimizer.state_dict(),
                        "scheduler": self.scheduler.state_dict(), "epoch": epoch,
                        "result": asdict(self.result), "rng": torch.get_rng_state()}, tmp)
