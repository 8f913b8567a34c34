from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from crossling.core.errors import ConfigError
from crossling.data.parallel import align_by_sent_id
from crossling.data.resolve import resolve_ud
from crossling.models.encoder import load_encoder, tokenizer_fingerprint
from crossling.similarity.pipeline import cross_lingual_similarity, model_similarity
from crossling.similarity.settings import SimilaritySettings
from crossling.similarity.uncertainty import DEFAULT_MEASURES

S = SimilaritySettings


@pytest.fixture(scope="module")
def corpus(ud_dir: Path):  # type: ignore[no-untyped-def]
    return align_by_sent_id({lang: resolve_ud(ud_dir, lang) for lang in ("en", "fr", "zh")},
                            limit=40)


def test_cross_lingual_rows_are_complete(tiny_bert: Path, corpus, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    enc = load_encoder(str(tiny_bert), device="cpu")
    rows = cross_lingual_similarity(enc, corpus, "en", targets=["fr", "zh"], cache_dir=tmp_path,
                                    settings=S(n_boot=20, n_null=10, progress=False))
    assert len(rows) == 2 * 5 * 3  # targets x (embeddings + 4 blocks) x measures
    keys = {(r.target, r.layer, r.metric) for r in rows}
    assert len(keys) == len(rows)
    for r in rows:
        assert r.kind == "cross-lingual" and r.source == "en" and r.n == 40
        assert r.ci_low <= r.value <= r.ci_high
        assert not math.isnan(r.null_mean)
        prov = r.provenance
        assert prov["pooling"] == "mean" and prov["seed"] == 0
        files = [resolve_ud(Path(corpus.files["en"]).parents[1], x) for x in ("en", "fr", "zh")]
        # by the file's folder and name below the data root, not by the machine's path
        assert set(prov["data"]) == {f"{f.parent.name}/{f.name}" for f in files}
        assert prov["model"] == r.model == tiny_bert.name
        assert all(len(v) == 64 for v in prov["data"].values())  # sha256 hex
        assert "torch" in prov["versions"] and prov["model_fingerprint"]
    # deterministic given the seed, and served from the cache the second time
    again = cross_lingual_similarity(enc, corpus, "en", targets=["fr", "zh"], cache_dir=tmp_path,
                                     settings=S(n_boot=20, n_null=10, progress=False))
    assert [r.value for r in again] == [r.value for r in rows]
    assert [r.ci_low for r in again] == [r.ci_low for r in rows]


def test_model_vs_itself_is_one(tiny_xlmr: Path, corpus) -> None:  # type: ignore[no-untyped-def]
    enc = load_encoder(str(tiny_xlmr), device="cpu")
    rows = model_similarity(enc, enc, corpus, languages=["en"],
                            settings=S(measures=("linear_cka",), n_boot=0, n_null=0,
                                       progress=False))
    assert [r.layer for r in rows] == [0, 1, 2, 3, 4]
    assert all(r.value == pytest.approx(1.0) for r in rows)
    assert rows[0].kind == "model-model" and rows[0].compare_model == tiny_xlmr.name


def test_bad_language_layer_and_depth(tiny_bert: Path, tiny_xlmr: Path, corpus) -> None:  # type: ignore[no-untyped-def]
    enc = load_encoder(str(tiny_bert), device="cpu")
    with pytest.raises(ConfigError, match=r"unknown language 'xx' \(available: en, fr, zh\)"):
        cross_lingual_similarity(enc, corpus, "en", targets=["xx"], settings=S(progress=False))
    with pytest.raises(ConfigError, match=r"layer 9 out of range 0\.\.4"):
        cross_lingual_similarity(enc, corpus, "en", targets=["fr"],
                                 settings=S(layers=[9], n_boot=0, n_null=0, progress=False))
    with pytest.raises(ConfigError, match="unknown similarity measure"):
        cross_lingual_similarity(enc, corpus, "en", targets=["fr"],
                                 settings=S(measures=("bogus_cca",), progress=False))
    # CCA with more kept directions than sentences allow: one line, not canonical correlations
    # of 1 (40 sentences, hidden size 32)
    with pytest.raises(ConfigError, match=r"^svcca: 40 sentences for \d+ \+ \d+ kept directions"):
        cross_lingual_similarity(enc, corpus, "en", targets=["fr"],
                                 settings=S(measures=("svcca",), progress=False))


def test_headline_measure_and_interval_labels(tiny_bert: Path, corpus) -> None:  # type: ignore[no-untyped-def]
    assert DEFAULT_MEASURES[0] == "debiased_cka"
    enc = load_encoder(str(tiny_bert), device="cpu")
    rows = cross_lingual_similarity(enc, corpus, "en", targets=["fr"],
                                    settings=S(layers=[2], n_boot=10, n_null=0, progress=False))
    assert [r.metric for r in rows] == list(DEFAULT_MEASURES)
    prov = rows[0].provenance
    assert prov["metric_variants"]["interval:debiased_cka"] == "95% CI"
    assert prov["metric_variants"]["interval:linear_cka"].startswith(
        "bootstrap percentile interval of the biased estimator (not a CI")
    # what produced the vectors: the tokenizer and the forward-pass precision
    assert prov["tokenizer_fingerprint"] == tokenizer_fingerprint(enc.tokenizer)
    assert prov["extraction_precision"] == "float32"
    assert prov["device"].startswith("cpu:")


def test_metric_step_runs_on_the_chosen_device(tiny_bert: Path, corpus, # type: ignore[no-untyped-def]
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """With a GPU present, ``--device cpu`` used to be ignored by the CKA step."""
    import crossling.similarity.pipeline as pipeline

    enc = load_encoder(str(tiny_bert), device="cpu")
    seen = []

    def spying(real):  # type: ignore[no-untyped-def]
        def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
            seen.append(args[3].device)  # the Resampling
            return real(*args, **kwargs)
        return spy

    monkeypatch.setattr(pipeline, "estimate", spying(pipeline.estimate))  # model vs model
    monkeypatch.setattr(pipeline, "estimate_targets",  # cross-lingual: targets side by side
                        spying(pipeline.estimate_targets))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # "a GPU is present"
    rows = cross_lingual_similarity(enc, corpus, "en", targets=["fr"],
                                    settings=S(layers=[1], n_boot=0, n_null=0, progress=False))
    rows += model_similarity(enc, enc, corpus, languages=["en"],
                             settings=S(layers=[1], n_boot=0, n_null=0, progress=False))
    assert seen == [torch.device("cpu")] * 2
    assert all(r.provenance["device"].startswith("cpu:") for r in rows)


def test_duplicates_and_too_few_sentences_are_refused(tiny_bert: Path, corpus) -> None:  # type: ignore[no-untyped-def]
    enc = load_encoder(str(tiny_bert), device="cpu")
    with pytest.raises(ConfigError, match="targets 'fr' is given twice"):
        cross_lingual_similarity(enc, corpus, "en", targets=["fr", "fr"],
                                 settings=S(progress=False))
    with pytest.raises(ConfigError, match="measures 'rbf_cka' is given twice"):
        model_similarity(enc, enc, corpus, languages=["fr"],
                         settings=S(measures=("rbf_cka", "rbf_cka"), progress=False))
    small = align_by_sent_id({lang: corpus.files[lang] for lang in ("en", "fr")}, limit=3)
    with pytest.raises(ConfigError, match="3 parallel sentences: debiased_cka needs at least 4"):
        cross_lingual_similarity(enc, small, "en", targets=["fr"], settings=S(progress=False))
    with pytest.raises(ConfigError, match="n_boot = -1: must be >= 0"):
        cross_lingual_similarity(enc, corpus, "en", targets=["fr"],
                                 settings=S(n_boot=-1, progress=False))
    with pytest.raises(ConfigError, match="batch_tokens = 0: must be > 0"):
        model_similarity(enc, enc, corpus, languages=["fr"],
                         settings=S(batch_tokens=0, progress=False))


def test_layer_difference_rows(tiny_bert: Path, corpus, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    enc = load_encoder(str(tiny_bert), device="cpu")
    measures = ["debiased_cka", "linear_cka", "rsa"]
    base = S(measures=measures, n_boot=20, n_null=5, progress=False, layers=[0, 2, 4])
    kw = {"targets": ["fr", "zh"], "cache_dir": tmp_path}
    plain = cross_lingual_similarity(enc, corpus, "en", settings=base, **kw)
    rows = cross_lingual_similarity(enc, corpus, "en", settings=base.replace(
        layer_difference=True), **kw)
    per_layer = [r for r in rows if r.kind == "cross-lingual"]
    assert list(map(repr, per_layer)) == list(map(repr, plain))  # unchanged (NaN too), same order
    diffs = [r for r in rows if r.kind == "layer-difference"]
    assert [(r.target, r.metric) for r in diffs] == [(t, m) for t in ("fr", "zh")
                                                     for m in measures]
    for d in diffs:
        curve = {r.layer: r.value for r in plain if (r.target, r.metric) == (d.target, d.metric)}
        assert d.layer == max(curve, key=lambda la: (curve[la], -la)) and d.compare_layer == 4
        assert d.value == pytest.approx(curve[d.layer] - curve[4], abs=1e-12)
        assert math.isnan(d.record()["null_mean"]) and d.n == 40
        detail = d.provenance["layer_difference"]
        assert (detail["peak_layer"], detail["top_layer"]) == (d.layer, 4)
        if d.metric == "rsa":  # no bootstrap: the point difference, and why
            assert math.isnan(d.ci_low) and math.isnan(detail["p_top_ge_peak"])
            assert detail["interval"].startswith("no interval (not computed")
        else:
            assert d.ci_low <= d.value <= d.ci_high and 0 <= detail["p_top_ge_peak"] <= 1
            assert detail["resamples"] == 20
    with pytest.raises(ConfigError, match="at least 2 layers"):
        cross_lingual_similarity(enc, corpus, "en", settings=base.replace(
            layer_difference=True, layers=[3]), **kw)


def test_a_layer_subset_gives_the_full_runs_rows_and_logs_its_memory(
        tiny_bert: Path, corpus, tmp_path: Path,  # type: ignore[no-untyped-def]
        caplog: pytest.LogCaptureFixture) -> None:
    import logging

    enc = load_encoder(str(tiny_bert), device="cpu")
    settings = S(n_boot=20, n_null=10, progress=False)
    full = cross_lingual_similarity(enc, corpus, "en", targets=["fr"], settings=settings)
    with caplog.at_level(logging.INFO, logger="crossling.similarity.memory"):
        some = cross_lingual_similarity(enc, corpus, "en", targets=["fr"], cache_dir=tmp_path,
                                        settings=settings.replace(layers=(2, 1)))
    assert [r.getMessage() for r in caplog.records if "memory:" in r.getMessage()] == [
        f"memory: weights {_size(enc)} (fp32) + vectors 20.5 kB (2 x 40 sentences x 2 layers x "
        "32 x 4 B) + activations ~6.29 MB (batch 16384 tokens x 3 states x 32 x 4 B)"]
    assert [(r.layer, r.metric, r.value, r.ci_low) for r in some] == [
        (r.layer, r.metric, r.value, r.ci_low) for r in full if r.layer in (1, 2)]


def _size(enc) -> str:  # type: ignore[no-untyped-def]
    from crossling.similarity.memory import size
    return size(4 * sum(p.numel() for p in enc.model.parameters()))
