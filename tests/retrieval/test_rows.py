"""Retrieval rows: every target, layer, variant and direction, from vectors or an encoder."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from crossling.core.errors import ConfigError, SettingError
from crossling.data.parallel import align_pud
from crossling.models.encoder import load_encoder
from crossling.retrieval.metrics import DIRECTIONS, VARIANTS, metric_id
from crossling.retrieval.rows import check_corpus, cross_lingual_retrieval, retrieval_rows
from crossling.retrieval.settings import RetrievalSettings

ALL = [metric_id(v, d) for v in VARIANTS for d in DIRECTIONS]


def _randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def test_rows_cover_every_target_layer_variant_and_direction() -> None:
    vectors = {lang: _randn(3, 30, 8, seed=i) for i, lang in enumerate(["en", "fr", "de"])}
    vectors["fr"] = vectors["en"] + 0.1 * vectors["fr"]
    s = RetrievalSettings(n_boot=50, n_null=20, layers=[0, 2], progress=False)
    rows = retrieval_rows(vectors, "en", ["fr", "de"], model="m", settings=s)
    assert len(rows) == 2 * 2 * 3 * 2
    assert {r.kind for r in rows} == {"retrieval"} and {r.source for r in rows} == {"en"}
    assert {r.metric for r in rows} == set(ALL) and {r.layer for r in rows} == {0, 2}
    assert all(r.null_mean == pytest.approx(1 / 30) and r.n == 30 for r in rows)
    fr = [r for r in rows if r.target == "fr" and "centred" not in r.metric]
    assert all(r.value == 1.0 for r in fr)
    with pytest.raises(ConfigError, match="layer 3 out of range"):
        retrieval_rows(vectors, "en", ["fr"], model="m", settings=s.replace(layers=[3]))


def test_the_corpus_is_cut_to_n_and_checked_before_any_model(fixture_dir: Path) -> None:
    corpus = align_pud(fixture_dir / "ud", ["en", "fr"])
    assert len(check_corpus(corpus, "en", ["fr"], RetrievalSettings(n=5))) == 5
    with pytest.raises(SettingError, match=rf"^n must be <= {len(corpus)}, the parallel "
                                           r"sentences of en, fr, got 100000$"):
        check_corpus(corpus, "en", ["fr"], RetrievalSettings(n=100_000))
    with pytest.raises(ConfigError, match="unknown language 'de'"):
        check_corpus(corpus, "en", ["de"], RetrievalSettings())


def test_rows_from_an_encoder_carry_their_settings(fixture_bert: Path, fixture_dir: Path,
                                                   tmp_path: Path) -> None:
    enc = load_encoder(str(fixture_bert), device="cpu")
    corpus = align_pud(fixture_dir / "ud", ["en", "fr"])
    s = RetrievalSettings(variants=["margin"], k=2, n=6, n_boot=5, n_null=5, layers=[1],
                          progress=False)
    rows = cross_lingual_retrieval(enc, corpus, "en", targets=["fr"], settings=s,
                                   cache_dir=tmp_path)
    assert [(r.layer, r.metric, r.n) for r in rows] == [
        (1, "retrieval_p1_margin_s2t", 6), (1, "retrieval_p1_margin_t2s", 6)]
    prov = rows[0].provenance
    assert (prov["margin_k"], prov["n_sentences"], prov["retrieval_variants"]) == (
        2, 6, ["margin"])
