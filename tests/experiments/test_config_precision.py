"""A study's precision: study-level, per kind, resolved at planning, in keys only when not fp32."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossling.core import precision as prec
from crossling.core.errors import ConfigError, SettingError
from crossling.experiments.config import load_study
from crossling.experiments.grid import expand

BASE = """
name: t
model: m
data: {{ud: {ud}, ner: {ner}}}
{top}
tasks:
  pos: {{train: [en_ewt], dev: [en_ewt], test: en, eval: [fr], max_train_sentences: 20}}
reinit: [REF]
seeds: [0]
training: {{epochs: 1, batch_size: 8{training}}}
similarity: {{languages: [fr, de], n: 20, n_boot: 10, n_null: 5{similarity}}}
retrieval: {{languages: [fr], n: 20, n_boot: 10, n_null: 5}}
probe: {{targets: [fr], max_train_sentences: 16}}
"""


def _load(tmp_path: Path, data_dir: Path, top: str = "", training: str = "",
          similarity: str = "", override: str | None = None):  # type: ignore[no-untyped-def]
    p = tmp_path / "study.yaml"
    p.write_text(BASE.format(ud=data_dir / "ud", ner=data_dir / "ner", top=top,
                             training=training, similarity=similarity), encoding="utf-8")
    return load_study(p, precision=override)


def _keys(study) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {c.kind: c.key for c in expand(study)}


@pytest.fixture
def no_bf16_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prec, "cpu_flags", lambda: {"avx2", "fma"})


def test_study_level_precision_is_each_kinds_default(tmp_path: Path, data_dir: Path) -> None:
    s = _load(tmp_path, data_dir, top="precision: bfloat16", similarity=", precision: fp32")
    assert s.training.precision == "bf16" and s.retrieval.precision == "bf16"
    assert s.probe.precision == "bf16" and s.similarity.precision == "fp32"  # its own
    o = _load(tmp_path, data_dir, top="precision: bf16", similarity=", precision: fp32",
              override="fp32")
    assert {o.training.precision, o.similarity.precision, o.retrieval.precision,
            o.probe.precision} == {"fp32"}


def test_fp32_adds_nothing_to_keys_and_bf16_changes_every_kinds_key(
        tmp_path: Path, data_dir: Path, no_bf16_cpu: None) -> None:
    default = _keys(_load(tmp_path, data_dir))
    fp32 = _keys(_load(tmp_path, data_dir, top="precision: fp32"))
    auto = _keys(_load(tmp_path, data_dir, top="precision: auto"))
    assert default == fp32 == auto  # auto resolves to fp32 on a CPU without bf16 units
    bf16 = _keys(_load(tmp_path, data_dir, top="precision: bf16"))
    assert set(bf16) == {"similarity", "finetune", "similarity_ft", "retrieval", "probe"}
    assert all(bf16[k] != fp32[k] for k in bf16)
    cells = expand(_load(tmp_path, data_dir, top="precision: bf16"))
    assert {c.params.precision for c in cells if hasattr(c.params, "precision")} == {"bf16"}
    tuned = next(c for c in cells if c.kind == "finetune")
    assert tuned.params.training.precision == "bf16"  # resolved at planning


def test_fp32_finetune_identity_is_the_one_before_precisions(
        tmp_path: Path, data_dir: Path, no_bf16_cpu: None) -> None:
    cell = next(c for c in expand(_load(tmp_path, data_dir)) if c.kind == "finetune")
    training = cell.params.identity()["training"]
    assert training["bf16"] is True and "precision" not in training
    assert "precision" not in next(c for c in expand(_load(tmp_path, data_dir))
                                   if c.kind == "similarity").params.identity()


def test_auto_on_a_bf16_cpu_resolves_to_bf16_at_planning(
        tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prec, "cpu_flags", lambda: {"avx512_bf16"})
    cells = expand(_load(tmp_path, data_dir, top="precision: auto"))
    assert {c.params.precision for c in cells if c.kind != "finetune"} == {"bf16"}
    default = expand(_load(tmp_path, data_dir))  # fp32 unless asked: the same keys anywhere
    assert {c.params.precision for c in default if c.kind != "finetune"} == {"fp32"}


@pytest.mark.parametrize(("top", "training", "where"), [
    ("precision: half", "", "precision: must be one of"),
    ("", ", precision: fp16", "training.precision: fp16 training needs loss scaling"),
    ("", ", bf16: true", "training.bf16: replaced by training.precision"),
])
def test_bad_or_old_precision_keys_are_one_line(tmp_path: Path, data_dir: Path, top: str,
                                                training: str, where: str) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, data_dir, top=top, training=training)
    assert where in str(info.value) and "study.yaml" in str(info.value)
    assert "\n" not in str(info.value)


def test_a_bad_override_names_the_setting(tmp_path: Path, data_dir: Path) -> None:
    with pytest.raises(SettingError) as info:
        _load(tmp_path, data_dir, override="half")
    assert info.value.name == "precision"
