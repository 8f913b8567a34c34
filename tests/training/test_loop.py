from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest
import torch

from crossling.core.errors import ConfigError, SettingError
from crossling.data.conllu import read_conllu
from crossling.data.example import examples_from_ud
from crossling.models.encoder import load_encoder
from crossling.training.loop import FitOptions, TaskModel, TrainConfig, fit, make_optimizer
from crossling.training.tasks import get_task

CONFIG = TrainConfig(epochs=2, batch_size=8, lr=1e-3, head_lr=3e-3, device="cpu",
                     max_length=64, patience=5)


def _run(model_dir: Path, ud_dir: Path, out: Path, seed: int,  # type: ignore[type-arg]
         config: TrainConfig = CONFIG) -> tuple[dict, object]:
    task = get_task("pos")
    sents = read_conllu(ud_dir / "UD_English-PUD" / "en_pud-ud-test.conllu", limit=40)
    train, dev = examples_from_ud(sents[:32], "pos"), examples_from_ud(sents[32:], "pos")
    enc = load_encoder(str(model_dir), device="cpu")
    labels = task.labels_from(train)
    torch.manual_seed(123)  # the head's init must come from the run's seed, not from here
    model = task.build_model(enc.model, labels)
    result = fit(TaskModel(task, model, enc.tokenizer, labels), train, dev, config, out,
                 FitOptions(seed=seed, progress=False))
    return model.state_dict(), result


def test_same_seed_gives_identical_weights(tiny_bert: Path, ud_dir: Path, tmp_path: Path) -> None:
    a, ra = _run(tiny_bert, ud_dir, tmp_path / "a", seed=7)
    b, rb = _run(tiny_bert, ud_dir, tmp_path / "b", seed=7)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert ra.history == rb.history  # type: ignore[attr-defined]
    c, _ = _run(tiny_bert, ud_dir, tmp_path / "c", seed=8)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_completed_run_is_reused_and_files_are_complete(tiny_xlmr: Path, ud_dir: Path,
                                                        tmp_path: Path) -> None:
    state, result = _run(tiny_xlmr, ud_dir, tmp_path, seed=1)
    fit_json = json.loads((tmp_path / "fit.json").read_text())
    assert fit_json["result"]["best_epoch"] == result.best_epoch  # type: ignore[attr-defined]
    assert len(fit_json["result"]["history"]) == 2
    assert not (tmp_path / "last.pt").exists()
    stamp = (tmp_path / "best.pt").stat().st_mtime_ns
    stale = tmp_path / f".crossling-tmp-{_dead_pid()}-last.pt.k1ll3d.pt"  # SIGKILL mid-save
    stale.write_bytes(b"half a checkpoint")
    again_state, again = _run(tiny_xlmr, ud_dir, tmp_path, seed=1)
    assert (tmp_path / "best.pt").stat().st_mtime_ns == stamp  # not retrained
    assert all(torch.equal(state[k], again_state[k]) for k in state)
    assert again.best_dev == result.best_dev  # type: ignore[attr-defined]
    assert not stale.exists()
    # another seed or recipe in the same folder is refused, not answered with this fit
    with pytest.raises(ConfigError, match=r"holds a different run: .*seed \(1 -> 2\)"):
        _run(tiny_xlmr, ud_dir, tmp_path, seed=2)
    with pytest.raises(ConfigError, match=r"config\.epochs \(2 -> 3\)"):
        _run(tiny_xlmr, ud_dir, tmp_path, seed=1,
             config=TrainConfig(**{**asdict(CONFIG), "epochs": 3}))
    assert (tmp_path / "best.pt").stat().st_mtime_ns == stamp


def test_checkpoints_of_unknown_origin_are_not_resumed(tiny_bert: Path, ud_dir: Path,
                                                       tmp_path: Path) -> None:
    (tmp_path / "last.pt").write_bytes(b"someone else's checkpoint")
    with pytest.raises(ConfigError, match=r"no manifest\.json"):
        _run(tiny_bert, ud_dir, tmp_path, seed=0)


def test_unknown_device_fails_before_anything_is_written(tiny_bert: Path, ud_dir: Path,
                                                         tmp_path: Path) -> None:
    bad = TrainConfig(**{**asdict(CONFIG), "device": "bogus"})
    with pytest.raises(ConfigError, match=r"^device 'bogus': not a torch device"):
        _run(tiny_bert, ud_dir, tmp_path / "out", seed=0, config=bad)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("field", "value"), [
    ("batch_size", 0), ("batch_size", -4), ("epochs", 0), ("epochs", -1), ("epochs", 1.5),
    ("max_length", 0), ("max_length", -3), ("lr", 0.0), ("lr", -5e-5), ("head_lr", 0),
    ("head_lr", float("nan")), ("eval_batch_size", 0), ("patience", 0), ("warmup_ratio", 1.5),
    ("warmup_ratio", -0.1), ("weight_decay", -0.1), ("max_grad_norm", 0),
    # no room for [CLS] word [SEP]: every score was 0.00
    ("max_length", 2), ("precision", "no"), ("precision", "fp16"), ("device", 0),
])
def test_train_config_refuses_recipes_that_cannot_train(field: str, value: object) -> None:
    """One rule per field, named by the field (never a CLI flag: the CLI renames), and by its
    path in a study file through ``from_mapping``."""
    with pytest.raises(SettingError) as info:
        TrainConfig(**{field: value})  # type: ignore[arg-type]
    assert info.value.name == field and "--" not in str(info.value)
    assert "\n" not in str(info.value)
    with pytest.raises(SettingError) as mapped:
        TrainConfig.from_mapping({field: value}, "tasks.pos.training")
    assert str(mapped.value) == f"tasks.pos.training.{field} {info.value.problem}"


def test_train_config_keeps_its_defaults_and_accepts_the_edges() -> None:
    assert TrainConfig() == TrainConfig(epochs=3, batch_size=32, lr=5e-5, head_lr=1e-3,
                                        weight_decay=0.01, warmup_ratio=0.1, max_grad_norm=1.0,
                                        patience=2, max_length=256, eval_batch_size=64,
                                        precision="fp32", device=None)
    edge = TrainConfig(max_length=3, warmup_ratio=1, weight_decay=0, lr=1)
    assert (edge.max_length, edge.warmup_ratio, edge.weight_decay) == (3, 1.0, 0.0)
    with pytest.raises(SettingError, match=r"^training\.epoch unknown field"):
        TrainConfig.from_mapping({"epoch": 3}, "training")


def _dead_pid() -> int:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_optimizer_is_fused_adamw_with_the_reference_update(tiny_bert: Path) -> None:
    """The fused kernel (10x faster on a 250k-row embedding) must apply AdamW's own update,
    with decay groups and the two learning rates intact."""
    task = get_task("pos")
    enc = load_encoder(str(tiny_bert), device="cpu")
    torch.manual_seed(0)
    model = task.build_model(enc.model, ["NOUN", "VERB", "DET"])
    reference = task.build_model(load_encoder(str(tiny_bert), device="cpu").model,
                                 ["NOUN", "VERB", "DET"])
    reference.load_state_dict(model.state_dict())
    start = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = make_optimizer(model, CONFIG)
    assert opt.defaults.get("fused") is True  # torch >= 2.4 has fused AdamW on the CPU
    names_per_group = _names(model, opt)
    group_of = {n: g for g, names in zip(opt.param_groups, names_per_group, strict=True)
                for n in names}
    assert set(group_of) == set(start)  # every trainable tensor is optimised, once
    for name, g in group_of.items():
        assert g["lr"] == (CONFIG.lr if name.startswith("encoder.") else CONFIG.head_lr), name
        no_decay = name.endswith(".bias") or "LayerNorm" in name or start[name].ndim < 2
        assert g["weight_decay"] == (0.0 if no_decay else CONFIG.weight_decay), name
    ref_params = dict(reference.named_parameters())
    ref_opt = torch.optim.AdamW([{"params": [ref_params[n] for n in names], "lr": g["lr"],
                                  "weight_decay": g["weight_decay"]}
                                 for g, names in zip(opt.param_groups, names_per_group,
                                                     strict=True)], foreach=False, fused=False)
    for step in range(3):
        for m, o in ((model, opt), (reference, ref_opt)):
            gen = torch.Generator().manual_seed(step)  # the same gradients for both models
            for p in m.parameters():
                p.grad = torch.randn(p.shape, generator=gen)
            o.step()
    for (name, a), b in zip(model.named_parameters(), reference.parameters(), strict=True):
        assert not torch.equal(a, start[name]), f"{name} was not updated"
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)


def _names(model: torch.nn.Module, opt: torch.optim.Optimizer) -> list[list[str]]:
    by_id = {id(p): n for n, p in model.named_parameters()}
    return [[by_id[id(p)] for p in g["params"]] for g in opt.param_groups]


def test_no_unused_dev_pass_or_resume_checkpoint(tiny_bert: Path, ud_dir: Path, tmp_path: Path,
                                                 monkeypatch: object) -> None:
    """One epoch: no dev evaluation (nothing to choose) and no last.pt (nothing to resume);
    two epochs: a dev pass per epoch and the resumable state once, after the first."""
    import crossling.training.loop as loop

    evaluated: list[int] = []
    saved: list[str] = []
    real_evaluate, real_save = loop.evaluate, torch.save

    def counting_evaluate(*args, **kwargs):  # type: ignore[no-untyped-def]
        evaluated.append(len(args[1]))
        return real_evaluate(*args, **kwargs)

    def recording_save(obj, path, *args, **kwargs):  # type: ignore[no-untyped-def]
        # atomic temp name: .crossling-tmp-<pid>-<target>.<random>[suffix]
        saved.append(Path(path).name.split(".")[1].split("-", 3)[3])
        return real_save(obj, path, *args, **kwargs)

    monkeypatch.setattr(loop, "evaluate", counting_evaluate)  # type: ignore[attr-defined]
    monkeypatch.setattr(loop.torch, "save", recording_save)  # type: ignore[attr-defined]
    task = get_task("pos")
    sents = read_conllu(ud_dir / "UD_English-PUD" / "en_pud-ud-test.conllu", limit=24)
    train, dev = examples_from_ud(sents[:16], "pos"), examples_from_ud(sents[16:], "pos")
    labels = task.labels_from(train)
    for epochs in (1, 2):
        evaluated.clear()
        saved.clear()
        enc = load_encoder(str(tiny_bert), device="cpu")
        model = task.build_model(enc.model, labels)
        config = TrainConfig(epochs=epochs, batch_size=8, device="cpu", max_length=64,
                             patience=5)
        result = fit(TaskModel(task, model, enc.tokenizer, labels), train, dev, config,
                     tmp_path / str(epochs), FitOptions(progress=False))
        if epochs == 1:
            assert evaluated == [] and result.best_dev == {} and result.best_epoch == 0
            assert saved == ["best"]
        else:
            assert evaluated == [len(dev), len(dev)] and "upos_acc" in result.best_dev
            assert saved.count("last") == 1
        # the weights kept are the best epoch's, whether reloaded or still in memory
        best = torch.load(tmp_path / str(epochs) / "best.pt")
        assert all(torch.equal(best[k], v) for k, v in model.state_dict().items())
