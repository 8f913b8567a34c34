from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from crossling.core.errors import ConfigError
from crossling.data.parallel import align_by_sent_id
from crossling.data.resolve import resolve_ud
from crossling.models.encoder import load_encoder
from crossling.similarity.pipeline import cross_lingual_similarity, model_similarity
from crossling.similarity.service import parallel_corpus, run_similarity

SETTINGS = {"measures": ["linear_cka"], "n_boot": 5, "n_null": 5, "progress": False}


def _values(rows: list) -> list[tuple]:  # type: ignore[type-arg]
    return [(r.kind, r.source, r.target, r.layer, r.metric, r.model, r.compare_model, r.value,
             r.ci_low, r.null_mean, r.n) for r in rows]


def test_service_equals_the_pipeline_by_hand(tiny_bert: Path, ud_dir: Path,
                                             tmp_path: Path) -> None:
    """The CLI and the study cells both call the service: its rows are the pipeline's rows."""
    rows = run_similarity(model=str(tiny_bert), ud=ud_dir, source="en", targets=["fr"], n=12,
                          device="cpu", cache_dir=tmp_path, compare_model=str(tiny_bert),
                          **SETTINGS)  # type: ignore[arg-type]
    corpus = align_by_sent_id({x: resolve_ud(ud_dir, x) for x in ("en", "fr")}, limit=12)
    a = load_encoder(str(tiny_bert), device="cpu")
    b = load_encoder(str(tiny_bert), device="cpu")
    expected = cross_lingual_similarity(a, corpus, "en", targets=["fr"], cache_dir=tmp_path,
                                        **SETTINGS)  # type: ignore[arg-type]
    expected += model_similarity(a, b, corpus, languages=["en", "fr"], cache_dir=tmp_path,
                                 **SETTINGS)  # type: ignore[arg-type]
    assert _values(rows) == _values(expected)


def test_compare_side_orders_the_model_pair(tiny_bert: Path, ud_dir: Path,
                                            tmp_path: Path) -> None:
    """``compare_side="a"`` is the study's pretrained-vs-fine-tuned order (compare model first),
    ``"b"`` the CLI's ``--compare-model`` order; the cross-lingual rows are ``model``'s."""
    tuned = load_encoder(str(tiny_bert), device="cpu")
    tuned = dataclasses.replace(tuned, name="tuned")
    common = dict(ud=ud_dir, source="en", targets=["fr"], n=12, device="cpu",
                  cache_dir=tmp_path, **SETTINGS)
    as_a = run_similarity(model=tuned, compare_model=str(tiny_bert), compare_side="a",
                          **common)  # type: ignore[arg-type]
    as_b = run_similarity(model=tuned, compare_model=str(tiny_bert),
                          **common)  # type: ignore[arg-type]
    for rows in (as_a, as_b):
        assert {r.model for r in rows if r.kind == "cross-lingual"} == {"tuned"}
    assert {(r.model, r.compare_model) for r in as_a if r.kind == "model-model"} == \
        {(str(tiny_bert), "tuned")}
    assert {(r.model, r.compare_model) for r in as_b if r.kind == "model-model"} == \
        {("tuned", str(tiny_bert))}


def test_default_targets_are_every_other_pud_language(ud_dir: Path) -> None:
    corpus, langs = parallel_corpus(ud_dir, "en", None, 5)
    assert "en" not in langs and "fr" in langs and len(corpus) == 5


def test_too_few_sentences_names_the_option(ud_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"^similarity\.n 100000: only 1000 parallel"):
        parallel_corpus(ud_dir, "en", ["fr"], 100000, n_option="similarity.n")


def test_bad_device_fails_before_data_is_read(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="device 'bogus'"):
        run_similarity(model="m", ud=tmp_path / "missing", source="en", targets=["fr"],
                       device="bogus")
