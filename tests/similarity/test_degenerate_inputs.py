"""The similarity and retrieval pipelines on real encoders whose vectors cannot give a result
(a pooling that makes every sentence the same vector, a NaN weight in one block), on a model
with few position embeddings, and with settings given the wrong type or too large for memory:
one line naming the layer, the language or the argument, before any measure (and, where it can
be known, before any encoding), never a number or a traceback."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import torch

from crossling.cli import main
from crossling.core.errors import ConfigError, CrosslingError
from crossling.data.parallel import align_by_sent_id
from crossling.data.resolve import resolve_ud
from crossling.models.encoder import Encoder, load_encoder
from crossling.retrieval import rows as retrieval
from crossling.retrieval.rows import cross_lingual_retrieval
from crossling.retrieval.settings import RetrievalSettings
from crossling.similarity import pipeline
from crossling.similarity.checks import VectorError
from crossling.similarity.pipeline import cross_lingual_similarity, model_similarity
from crossling.similarity.service import run_similarity
from crossling.workflows.retrieval import run_retrieval

FAST = {"n_boot": 5, "n_null": 5, "progress": False}
RFAST = RetrievalSettings(**FAST)


@pytest.fixture(scope="module")
def corpus(ud_dir: Path):  # type: ignore[no-untyped-def]
    return align_by_sent_id({lang: resolve_ud(ud_dir, lang) for lang in ("en", "fr")}, limit=40)


def _nan_block(path: Path, block: int = 2) -> Encoder:
    """The tiny BERT with one NaN weight in ``block``: hidden states block + 1 .. are NaN."""
    enc = load_encoder(str(path), device="cpu")
    with torch.no_grad():
        enc.model.encoder.layer[block].output.dense.weight[0, 0] = float("nan")
    return enc


def _short_bert(folder: Path, tokenizer: Any, positions: int = 16) -> Path:
    """A tiny random BERT with only ``positions`` position embeddings."""
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2,
                         num_attention_heads=2, intermediate_size=64,
                         max_position_embeddings=positions, pad_token_id=tokenizer.pad_token_id),
              add_pooling_layer=False).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_a_pooling_that_makes_every_vector_equal_is_refused_naming_the_layer(
        tiny_bert: Path, corpus) -> None:  # type: ignore[no-untyped-def]
    """First-token pooling at layer 0: the same special token at the same position in every
    sentence, so every vector is the same: CKA of it is no finding."""
    enc = load_encoder(str(tiny_bert), device="cpu")
    with pytest.raises(VectorError, match=r"^layer 0 of en: sentence vectors are all the same "
                                          r"vector \(40 rows\): no variance$"):
        cross_lingual_similarity(enc, corpus, "en", targets=["fr"], pooling="first_token",
                                 **FAST)
    with pytest.raises(VectorError, match=r"^layer 0 of en: sentence vectors are all the same"):
        cross_lingual_retrieval(enc, corpus, "en", targets=["fr"],
                                settings=RFAST.replace(pooling="first_token"))
    rows = cross_lingual_similarity(enc, corpus, "en", targets=["fr"], pooling="first_token",
                                    layers=[1, 4], measures=["linear_cka"], **FAST)
    assert [r.layer for r in rows] == [1, 4]


def test_a_nan_weight_is_refused_naming_the_layer_before_any_measure(
        tiny_bert: Path, corpus, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    enc = _nan_block(tiny_bert)

    def no_measure(*args: object, **kwargs: object) -> None:
        raise AssertionError("a measure ran on vectors that were not checked")

    monkeypatch.setattr(pipeline, "estimate_targets", no_measure)
    message = (r"^layer 3 of en: sentence vectors contain NaN \(non-finite values in 40 of 40 "
               r"rows\)$")
    with pytest.raises(VectorError, match=message) as err:
        cross_lingual_similarity(enc, corpus, "en", targets=["fr"], **FAST)
    assert isinstance(err.value, CrosslingError)
    with pytest.raises(VectorError, match=r"^layer 3 of en \(.*\): sentence vectors contain NaN"):
        model_similarity(enc, enc, corpus, languages=["en"], **FAST)
    with pytest.raises(VectorError, match=message):
        cross_lingual_retrieval(enc, corpus, "en", targets=["fr"], settings=RFAST)
    monkeypatch.undo()
    rows = cross_lingual_similarity(enc, corpus, "en", targets=["fr"], layers=[0, 1, 2],
                                    measures=["debiased_cka"], **FAST)
    assert [r.layer for r in rows] == [0, 1, 2]  # the blocks before the NaN are fine


def test_a_short_position_limit_bounds_max_length_and_a_larger_one_is_refused(
        tmp_path: Path, tiny_tokenizers: dict, corpus,  # type: ignore[no-untyped-def]
        monkeypatch: pytest.MonkeyPatch) -> None:
    model = _short_bert(tmp_path / "short", tiny_tokenizers["bert"])
    enc = load_encoder(str(model), device="cpu")
    rows = cross_lingual_similarity(enc, corpus, "en", targets=["fr"], measures=["linear_cka"],
                                    **FAST)
    assert len(rows) == 3 and rows[0].provenance["max_length"] == 16
    found = cross_lingual_retrieval(enc, corpus, "en", targets=["fr"],
                                    settings=RFAST.replace(variants=["cosine"]))
    assert found[0].provenance["max_length"] == 16

    def no_encoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("encoded before the max_length check")

    monkeypatch.setattr(pipeline, "extract_cached", no_encoding)
    monkeypatch.setattr(retrieval, "extract_cached", no_encoding)
    message = rf"^max_length 512 exceeds the 16 positions of {enc.name}$"
    with pytest.raises(ConfigError, match=message):
        cross_lingual_similarity(enc, corpus, "en", targets=["fr"], max_length=512, **FAST)
    with pytest.raises(ConfigError, match=message):
        model_similarity(enc, enc, corpus, languages=["en"], max_length=512, **FAST)
    with pytest.raises(ConfigError, match=message):
        cross_lingual_retrieval(enc, corpus, "en", targets=["fr"],
                                settings=RFAST.replace(max_length=512))


def test_a_bare_string_target_is_one_language(tiny_bert: Path, ud_dir: Path,
                                               tmp_path: Path) -> None:
    kw: dict[str, Any] = {"model": str(tiny_bert), "ud": ud_dir, "source": "en", "n": 12,
                          "device": "cpu", "cache_dir": tmp_path, **FAST}
    rows = run_similarity(targets="fr", measures="linear_cka", **kw)
    assert {r.target for r in rows} == {"fr"} and {r.metric for r in rows} == {"linear_cka"}
    rows = run_retrieval(kw["model"], ud_dir, "en", targets="fr", cache_dir=tmp_path,
                         settings=RFAST.replace(variants=["cosine"], n=12, device="cpu"))
    assert {r.target for r in rows} == {"fr"}


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"n_boot": 10.5}, r"^n_boot must be an integer >= 0, got 10\.5$"),
    ({"n_null": True}, r"^n_null must be an integer >= 0, got True$"),
    ({"seed": "1"}, r"^seed must be an integer in \[0, 4294967295\], got '1'$"),
    ({"batch_tokens": 100.0}, r"^batch_tokens must be an integer >= 1, got 100\.0$"),
    ({"n": 10.5}, r"^n must be an integer"),
    ({"targets": ["fr", 3]}, r"^targets: expected names \(strings\), got 3$"),
])
def test_mistyped_settings_are_refused_before_data_and_model(
        kwargs: dict[str, Any], message: str, tmp_path: Path) -> None:
    """A missing data folder and model would fail later: these fail first, in one line."""
    kw = {"model": str(tmp_path / "no-model"), "ud": tmp_path / "no-data", "source": "en",
          "targets": ["fr"], "device": "cpu", "progress": False, **kwargs}
    with pytest.raises(ConfigError, match=message):
        run_similarity(**kw)
    with pytest.raises(ConfigError, match=message):
        run_retrieval(kw["model"], kw["ud"], "en", targets=kw["targets"],
                      settings=RetrievalSettings(**{k: v for k, v in kwargs.items()
                                                    if k != "targets"}))


def test_resample_counts_beyond_memory_are_refused_before_the_model_loads(
        ud_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()  # a folder: the model is never read
    kw: dict[str, Any] = {"model": str(tmp_path / "model"), "ud": ud_dir, "source": "en",
                          "targets": ["fr"], "n": 100, "device": "cpu", "progress": False}
    clock = time.perf_counter()
    with pytest.raises(ConfigError, match=r"^n_boot = 1000000000, n_null = 100: the resamples "
                                          r"of 100 sentences would take about .* of memory "
                                          r"\(estimate\), more than the .* available$"):
        run_similarity(n_boot=1_000_000_000, **kw)
    with pytest.raises(ConfigError, match=r"^n_boot = 1000, n_null = 1000000000: the retrieval "
                                          r"resamples of 100 sentences would take about"):
        run_retrieval(kw["model"], ud_dir, "en", targets=["fr"], settings=RetrievalSettings(
            n=100, n_null=1_000_000_000, device="cpu", progress=False))
    assert time.perf_counter() - clock < 30


def test_cli_refuses_a_huge_n_boot_in_one_line(tiny_bert: Path, ud_dir: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("similarity", "retrieval"):
        code = main([command, "--model", str(tiny_bert), "--data", str(ud_dir), "--targets",
                     "fr", "--n", "30", "--n-boot", "1000000000", "--out",
                     str(tmp_path / command)])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1, err
        assert err[0].startswith("crossling: error: n_boot = 1000000000") and "available" in err[0]


def test_cli_names_the_constant_layer_and_layers_leaves_it_out(
        tiny_bert: Path, ud_dir: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("similarity", "retrieval"):
        argv = [command, "--model", str(tiny_bert), "--data", str(ud_dir), "--targets", "fr",
                "--n", "30", "--pooling", "first_token", "--n-boot", "5", "--n-null", "5",
                "--out", str(tmp_path / command)]
        assert main(argv) == 2
        errors = [x for x in capsys.readouterr().err.splitlines() if "error" in x]
        assert errors == ["crossling: error: layer 0 of en: sentence vectors are all the same "
                          "vector (30 rows): no variance"]
        assert main([*argv, "--layers", "1", "2"]) == 0
        assert "layer" in capsys.readouterr().out
