from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from crossling.core.errors import ConfigError
from crossling.data.parallel import align_by_sent_id
from crossling.data.resolve import resolve_ud
from crossling.models.encoder import load_encoder
from crossling.similarity.pipeline import cross_lingual_similarity, model_similarity
from crossling.similarity.settings import SimilaritySettings
from crossling.workflows.similarity import Models, run_similarity

SETTINGS = SimilaritySettings(measures=["linear_cka"], n_boot=5, n_null=5, progress=False)


def _values(rows: list) -> list[tuple]:  # type: ignore[type-arg]
    return [(r.kind, r.source, r.target, r.layer, r.metric, r.model, r.record()["compare_model"],
             r.value, r.ci_low, r.null_mean, r.n) for r in rows]


def test_workflow_equals_the_pipeline_by_hand(tiny_bert: Path, ud_dir: Path,
                                              tmp_path: Path) -> None:
    """The CLI and the study cells both call the workflow: its rows are the pipeline's rows."""
    rows = run_similarity(Models(str(tiny_bert), compare=str(tiny_bert)), ud_dir, "en",
                          targets=["fr"], cache_dir=tmp_path,
                          settings=SETTINGS.replace(n=12, device="cpu"))
    corpus = align_by_sent_id({x: resolve_ud(ud_dir, x) for x in ("en", "fr")}, limit=12)
    a = load_encoder(str(tiny_bert), device="cpu")
    b = load_encoder(str(tiny_bert), device="cpu")
    expected = cross_lingual_similarity(a, corpus, "en", targets=["fr"], cache_dir=tmp_path,
                                        settings=SETTINGS)
    expected += model_similarity(a, b, corpus, languages=["en", "fr"], cache_dir=tmp_path,
                                 settings=SETTINGS)
    assert _values(rows) == _values(expected)


def test_compare_side_orders_the_model_pair(tiny_bert: Path, ud_dir: Path,
                                            tmp_path: Path) -> None:
    """``compare_side="a"`` is the study's pretrained-vs-fine-tuned order (compare model first),
    ``"b"`` the CLI's ``--compare-model`` order; the cross-lingual rows are ``model``'s."""
    tuned = load_encoder(str(tiny_bert), device="cpu")
    tuned = dataclasses.replace(tuned, name="tuned")
    settings = SETTINGS.replace(n=12, device="cpu")
    as_a = run_similarity(Models(tuned, compare=str(tiny_bert), compare_side="a"), ud_dir, "en",
                          targets=["fr"], settings=settings, cache_dir=tmp_path)
    as_b = run_similarity(Models(tuned, compare=str(tiny_bert)), ud_dir, "en", targets=["fr"],
                          settings=settings, cache_dir=tmp_path)
    for rows in (as_a, as_b):
        assert {r.model for r in rows if r.kind == "cross-lingual"} == {"tuned"}
    assert {(r.model, r.compare_model) for r in as_a if r.kind == "model-model"} == \
        {(tiny_bert.name, "tuned")}  # a local folder by its name, never its path
    assert {(r.model, r.compare_model) for r in as_b if r.kind == "model-model"} == \
        {("tuned", tiny_bert.name)}


def test_models_refuse_nonsense() -> None:
    with pytest.raises(ConfigError, match="compare_side = 'c'"):
        Models("m", compare="n", compare_side="c")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="needs a compare model"):
        Models("m", cross_lingual=False)


def test_bad_device_fails_before_data_is_read(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="device 'bogus'"):
        run_similarity("m", tmp_path / "missing", "en", targets=["fr"],
                       settings=SimilaritySettings(device="bogus"))
