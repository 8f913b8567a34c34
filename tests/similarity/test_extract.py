from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch

from crossling.core.errors import ConfigError, ModelError
from crossling.core.precision import torch_dtype
from crossling.models.encoder import Encoder, load_encoder, tokenizer_fingerprint
from crossling.similarity.extract import (
    MAX_BATCH,
    Forward,
    cache_key,
    encoder_fingerprint,
    encoder_tokenizer_fingerprint,
    extract,
    extract_cached,
    extraction_precision,
)
from crossling.similarity.pooling import POOLINGS

TEXTS = ["A short one.", "Le chat est assis sur le tapis, près de la cheminée ancienne.",
         "Кошка сидит.", "這個比例多年來一直在穩步上升。", "x",
         "A much longer English sentence that will need quite a few more word pieces than "
         "the others in this small batch."]


@pytest.mark.parametrize("pooling", sorted(POOLINGS))
def test_batched_equals_one_sentence_at_a_time(tiny_model: Path, pooling: str) -> None:
    enc = load_encoder(str(tiny_model), device="cpu")
    batched = extract(enc, TEXTS, pooling=pooling, forward=Forward(batch_tokens=40),
                      progress=False)
    single = torch.cat([extract(enc, [t], pooling=pooling, progress=False) for t in TEXTS], 1)
    assert batched.shape == (5, len(TEXTS), 32)  # 4 blocks + embeddings
    torch.testing.assert_close(batched, single, atol=1e-5, rtol=1e-4)


def test_mean_excludes_exactly_the_special_tokens(tiny_xlmr: Path) -> None:
    enc = load_encoder(str(tiny_xlmr), device="cpu")
    text = TEXTS[1]
    batch = enc.tokenizer([text], return_tensors="pt")
    with torch.inference_mode():
        states = enc.model(**batch, output_hidden_states=True).hidden_states
    expected = torch.stack([s[0, 1:-1].mean(0) for s in states])  # <s> ... </s> dropped
    got = extract(enc, [text], pooling="mean", progress=False)[:, 0]
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)
    with_special = extract(enc, [text], pooling="mean_with_special", progress=False)[:, 0]
    torch.testing.assert_close(with_special, torch.stack([s[0].mean(0) for s in states]),
                               atol=1e-5, rtol=1e-4)


def test_extraction_batches_respect_budget_and_cover_all(
        tiny_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Extraction batches with the package's one length batcher, under the token budget."""
    import crossling.similarity.extract as extract_module

    seen: list[list[list[int]]] = []
    real = extract_module.bucket_batches

    def spy(*args: object, **kwargs: object) -> list[list[int]]:
        seen.append(real(*args, **kwargs))  # type: ignore[arg-type]
        return seen[-1]

    monkeypatch.setattr(extract_module, "bucket_batches", spy)
    enc = load_encoder(str(tiny_model), device="cpu")
    extract(enc, TEXTS, forward=Forward(batch_tokens=40), progress=False)
    assert len(seen) == 1 and sorted(i for b in seen[0] for i in b) == list(range(len(TEXTS)))
    lengths = [5, 50, 7, 12, 48, 3, 9, 30]
    batches = real(lengths, MAX_BATCH, seed=0, shuffle=False, max_tokens=60)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for b in batches:
        assert max(lengths[i] for i in b) * len(b) <= 60 or len(b) == 1


def test_cache_hit_skips_the_model(tiny_bert: Path, tmp_path: Path) -> None:
    enc = load_encoder(str(tiny_bert), device="cpu")
    first = extract_cached(enc, TEXTS, "mean", tmp_path, progress=False)
    assert len(list(tmp_path.glob("*.safetensors"))) == 1

    class Exploding(torch.nn.Module):
        def forward(self, *a: object, **k: object) -> None:
            raise AssertionError("model called despite a cache hit")

    cached = Encoder(model=Exploding(), tokenizer=enc.tokenizer, name=enc.name)
    cached._crossling_fingerprint = enc._crossling_fingerprint  # type: ignore[attr-defined]
    torch.testing.assert_close(extract_cached(cached, TEXTS, "mean", tmp_path), first)
    # different pooling or texts -> a different cache entry
    extract_cached(enc, TEXTS[:3], "mean", tmp_path, progress=False)
    assert len(list(tmp_path.glob("*.safetensors"))) == 2


def test_model_without_hidden_states(tiny_bert: Path) -> None:
    enc = load_encoder(str(tiny_bert), device="cpu")

    class NoStates(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.p = torch.nn.Parameter(torch.zeros(1))

        def forward(self, **kwargs: object) -> object:
            return type("Out", (), {"hidden_states": None})()

    broken = Encoder(model=NoStates(), tokenizer=enc.tokenizer, name="broken")
    with pytest.raises(ModelError, match="returned no hidden_states"):
        extract(broken, ["hello"], progress=False)


def test_cache_key_follows_the_tokenizer(tiny_bert: Path, tmp_path: Path) -> None:
    """Same weights, another tokenizer: the old key reused the other tokenizer's vectors."""
    import copy

    from tokenizers import normalizers

    enc = load_encoder(str(tiny_bert), device="cpu")
    cased = extract_cached(enc, TEXTS, "mean", tmp_path, progress=False)
    lower_tok = copy.deepcopy(enc.tokenizer)
    lower_tok.backend_tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    lower = Encoder(model=enc.model, tokenizer=lower_tok, name=enc.name)
    uncased = extract_cached(lower, TEXTS, "mean", tmp_path, progress=False)
    assert len(list(tmp_path.glob("*.safetensors"))) == 2
    assert not torch.allclose(cased, uncased)
    torch.testing.assert_close(uncased, extract(lower, TEXTS, progress=False))
    assert tokenizer_fingerprint(lower_tok) != tokenizer_fingerprint(enc.tokenizer)


def test_cache_key_follows_the_precision(tiny_bert: Path, tmp_path: Path) -> None:
    enc = load_encoder(str(tiny_bert), device="cpu")
    fp32 = extract_cached(enc, TEXTS, "mean", tmp_path, progress=False, precision="fp32")
    bf16 = extract_cached(enc, TEXTS, "mean", tmp_path, progress=False, precision="bf16")
    assert len(list(tmp_path.glob("*.safetensors"))) == 2
    assert not torch.equal(fp32, bf16)
    assert extraction_precision(enc, "fp32") == "float32"
    assert extraction_precision(enc, "bfloat16") == "bfloat16"


def test_fp32_cache_key_is_the_one_written_before_precisions(tiny_bert: Path) -> None:
    """fp32 hashes the tag older caches were keyed by: their entries stay valid."""
    enc = load_encoder(str(tiny_bert), device="cpu")
    digest = hashlib.sha256()
    digest.update(f"{encoder_fingerprint(enc)}|{encoder_tokenizer_fingerprint(enc)}|mean|512|"
                  f"bf16=False|{len(TEXTS)}".encode())
    for t in TEXTS:
        digest.update(t.encode("utf-8") + b"\0")
    assert cache_key(enc, TEXTS, "mean", 512, "fp32") == digest.hexdigest()[:24]
    assert cache_key(enc, TEXTS, "mean", 512, "bf16") != digest.hexdigest()[:24]


@pytest.mark.parametrize("name", ["bf16", "fp16"])
def test_a_low_precision_pass_casts_the_weights_once(tiny_bert: Path, name: str) -> None:
    """bf16 / fp16 run on weights cast once (no autocast), return float32 vectors within 5e-2
    (relative, per layer) of fp32's, and a later fp32 pass on the cast weights is refused."""
    ref = extract(load_encoder(str(tiny_bert), device="cpu"), TEXTS, progress=False,
                  forward=Forward(precision="fp32"))
    enc = load_encoder(str(tiny_bert), device="cpu")
    before = encoder_fingerprint(enc)
    low = extract(enc, TEXTS, progress=False, forward=Forward(precision=name))
    dtype = torch_dtype(name)
    assert {p.dtype for p in enc.model.parameters()} == {dtype}
    assert low.dtype == torch.float32 and low.shape == ref.shape
    rel = (low - ref).norm(dim=(1, 2)) / ref.norm(dim=(1, 2))
    assert 0 < float(rel.max()) < 5e-2, rel
    calls = []
    enc.model.to = lambda *a, **k: calls.append(a)  # type: ignore[method-assign]
    again = extract(enc, TEXTS, progress=False, forward=Forward(precision=name))
    assert calls == [] and torch.equal(again, low)  # cast once: the second pass casts nothing
    assert encoder_fingerprint(enc) == before  # the cache keys name the weights as loaded
    with pytest.raises(ModelError, match="load the model again for a float32 pass"):
        extract(enc, TEXTS, progress=False, forward=Forward(precision="fp32"))


def test_fp32_pass_is_unchanged_by_the_precision_setting(tiny_bert: Path) -> None:
    """fp32 (the resolved ``auto`` on a CPU without bf16 units) is the plain float32 forward:
    the same bytes as the model's own hidden states, pooled."""
    enc = load_encoder(str(tiny_bert), device="cpu")
    got = extract(enc, TEXTS[:1], "first_token", Forward(precision="fp32"), progress=False)
    batch = enc.tokenizer(TEXTS[:1], return_tensors="pt")
    with torch.inference_mode():
        states = enc.model(**batch, output_hidden_states=True).hidden_states
    assert torch.equal(got[:, 0], torch.stack([s[0, 0] for s in states]))
    assert {p.dtype for p in enc.model.parameters()} == {torch.float32}


@pytest.mark.parametrize("budget", [0, -10])
def test_non_positive_token_budget_is_refused(tiny_bert: Path, budget: int) -> None:
    enc = load_encoder(str(tiny_bert), device="cpu")
    with pytest.raises(ConfigError, match=rf"batch_tokens = {budget}: .* must be > 0"):
        extract(enc, TEXTS, forward=Forward(batch_tokens=budget), progress=False)


def _flip_last_bit(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[-3] ^= 0x01  # inside the last vector's float32 bytes
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("damage", ["flip", "truncate", "no-checksum"])
def test_damaged_cache_entry_is_recomputed_with_a_warning(
        tiny_bert: Path, tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture) -> None:
    """A flipped bit or a truncated file is never used: the entry is recomputed (same result as
    a fresh extraction), rewritten, and a warning names the file."""
    from safetensors.torch import save_file

    enc = load_encoder(str(tiny_bert), device="cpu")
    fresh = extract(enc, TEXTS, "mean", Forward(precision="fp32"), progress=False)
    extract_cached(enc, TEXTS, "mean", tmp_path, progress=False)
    (path,) = tmp_path.glob("*.safetensors")
    if damage == "flip":
        _flip_last_bit(path)
    elif damage == "truncate":
        path.write_bytes(path.read_bytes()[:-100])
    else:  # an entry written without a checksum (or by another program) is not trusted
        save_file({"vectors": fresh * 2}, str(path))
    with caplog.at_level("WARNING"):
        again = extract_cached(enc, TEXTS, "mean", tmp_path, progress=False)
    torch.testing.assert_close(again, fresh, rtol=0, atol=0)
    assert any(str(path) in r.getMessage() and "recomputing" in r.getMessage()
               for r in caplog.records)
    caplog.clear()
    with caplog.at_level("WARNING"):  # rewritten: the next read is a clean hit
        torch.testing.assert_close(extract_cached(enc, TEXTS, "mean", tmp_path), fresh,
                                   rtol=0, atol=0)
    assert not caplog.records


def test_a_layer_subset_equals_those_layers_of_the_full_extraction(
        tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import crossling.similarity.extract as extract_module

    enc = load_encoder(str(tiny_model), device="cpu")
    full = extract(enc, TEXTS, progress=False)
    some = extract_cached(enc, TEXTS, cache_dir=tmp_path, layers=[1, 3], progress=False)
    assert some.shape == (2, len(TEXTS), 32)
    torch.testing.assert_close(some, full[[1, 3]], atol=0, rtol=0)
    (entry,) = tmp_path.glob("*.safetensors")  # only the two layers are cached
    from crossling.core.checksums import load_tensors
    assert load_tensors(entry)["vectors"].shape == (2, len(TEXTS), 32)

    def refuse(*_: object, **__: object) -> torch.Tensor:
        raise AssertionError("cached layers were extracted again")

    monkeypatch.setattr(extract_module, "extract", refuse)
    torch.testing.assert_close(extract_cached(enc, TEXTS, cache_dir=tmp_path, layers=[1, 3],
                                              progress=False), some, atol=0, rtol=0)
    monkeypatch.undo()
    extract_cached(enc, TEXTS, cache_dir=tmp_path, progress=False)  # all: another entry
    assert len(list(tmp_path.glob("*.safetensors"))) == 2
