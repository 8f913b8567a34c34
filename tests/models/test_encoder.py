from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from crossling.core.errors import ConfigError, ModelError
from crossling.models.encoder import (
    encode_words,
    load_encoder,
    load_tokenizer,
    model_fingerprint,
    pick_device,
    tokenizer_fingerprint,
    transformer_layers,
    word_start_positions,
)


def test_load_tiny_models(tiny_model: Path) -> None:
    enc = load_encoder(str(tiny_model), device="cpu")
    assert enc.num_layers == 4
    assert not enc.model.training
    assert enc.tokenizer.is_fast


def test_first_subword_alignment(tiny_model: Path) -> None:
    enc = load_encoder(str(tiny_model), device="cpu")
    sents = [["Le", "chat", "dort", "profondément", "."], ["Hello", "世界"]]
    batch = encode_words(enc.tokenizer, sents)
    assert batch.first_subword.shape == (2, 5)
    assert batch.n_words == [5, 2]
    ids = batch.inputs["input_ids"]
    for b, words in enumerate(sents):
        for w, word in enumerate(words):
            t = int(batch.first_subword[b, w])
            assert t > 0, "every word keeps a sub-word"
            assert int(batch.word_index[b, t]) == w
            # the first sub-word of a word decodes to the start of that word
            piece = enc.tokenizer.convert_ids_to_tokens(int(ids[b, t]))
            piece = piece.replace("▁", "").replace("##", "")
            assert word.startswith(piece) or piece in ("", "[UNK]", "<unk>")
        assert (batch.first_subword[b, len(words):] == -1).all()
    # special tokens and padding belong to no word
    assert int(batch.word_index[0, 0]) == -1


def test_word_start_skips_a_bare_boundary_marker() -> None:
    # "▁" + piece: the piece represents the word; a word that is only "▁" keeps it; WordPiece
    # continuation pieces and a marker *inside* a word are left alone.
    word_ids = [None, 0, 0, 1, 1, 2, 3, 3, 3, None]
    tokens = ["<s>", "▁", "世界", "▁Hello", "s", "▁", "##ab", "▁", "c", "</s>"]
    assert word_start_positions(word_ids, tokens) == {0: 2, 1: 3, 2: 5, 3: 6}


def test_sentencepiece_words_are_not_represented_by_the_marker(e5_model_dir: Path,
                                                              ud_dir: Path) -> None:
    from crossling.data.conllu import read_conllu
    from crossling.data.resolve import resolve_ud
    from crossling.models.encoder import load_tokenizer

    tok = load_tokenizer(str(e5_model_dir))
    sents = [list(s.words) for s in read_conllu(resolve_ud(ud_dir, "zh"))[:50]]
    batch = encode_words(tok, sents)
    firsts = [t for b in range(len(sents)) for t in batch.first_subword[b, :len(sents[b])]]
    pieces = tok.convert_ids_to_tokens([int(batch.inputs["input_ids"][b, t])
                                        for b in range(len(sents))
                                        for t in batch.first_subword[b, :len(sents[b])]])
    assert len(pieces) == len(firsts) > 500
    assert sum(p == "▁" for p in pieces) == 0  # 85% of them would be "▁" without the rule


def test_truncated_words_are_marked(tiny_bert: Path) -> None:
    enc = load_encoder(str(tiny_bert), device="cpu")
    words = ["word"] * 50
    batch = encode_words(enc.tokenizer, [words], max_length=12)
    kept = int((batch.first_subword[0] >= 0).sum())
    assert 0 < kept < 50
    assert (batch.first_subword[0, kept:] == -1).all()


def test_model_without_encoder_layers_is_rejected() -> None:
    class NotAnEncoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(2, 2)

    with pytest.raises(ModelError, match=r"not a supported family"):
        transformer_layers(NotAnEncoder())
    assert torch.is_tensor(NotAnEncoder().lin.weight)


def test_fingerprint_sees_a_change_in_any_single_value(tiny_bert: Path) -> None:
    """The old fingerprint hashed ~2,048 strided values per tensor and missed this change."""
    enc = load_encoder(str(tiny_bert), device="cpu")
    before = model_fingerprint(enc.model)
    assert model_fingerprint(enc.model) == before
    emb = enc.model.embeddings.word_embeddings.weight  # 3000 x 32: strided sampling skips [0, 1]
    with torch.no_grad():
        emb[0, 1] += 1e-3
    assert model_fingerprint(enc.model) != before
    with torch.no_grad():
        emb[0, 1] -= 1e-3
        enc.model.half()
    assert model_fingerprint(enc.model) != before  # another precision is another model


@pytest.mark.slow
def test_fingerprint_of_e5_small_takes_under_a_few_seconds(e5_model_dir: Path) -> None:
    import time

    enc = load_encoder(str(e5_model_dir), device="cpu")
    start = time.perf_counter()
    model_fingerprint(enc.model)
    assert time.perf_counter() - start < 5.0  # ~0.4 s on one core; generous for shared CPUs


def test_pick_device_validates() -> None:
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device(None).type in ("cpu", "cuda")
    with pytest.raises(ConfigError, match=r"^device 'bogus': not a torch device"):
        pick_device("bogus")
    with pytest.raises(ConfigError, match=r"^device 'meta': unsupported device type"):
        pick_device("meta")


def test_pick_device_refuses_cuda_without_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for name in ("cuda", "cuda:1"):
        with pytest.raises(ConfigError, match=rf"^device '{name}': CUDA is not available"):
            pick_device(name)
    assert pick_device(None) == torch.device("cpu")


def test_missing_tokenizer_files_are_refused(tiny_bert: Path, tmp_path: Path) -> None:
    """transformers builds a 5-token tokenizer from such a folder: every word is [UNK]."""
    import shutil

    for f in ("config.json", "model.safetensors"):
        shutil.copy(tiny_bert / f, tmp_path / f)
    with pytest.raises(ModelError, match=r"no tokenizer files in the model folder"):
        load_tokenizer(str(tmp_path))
    with pytest.raises(ModelError, match=r"no tokenizer files"):
        load_encoder(str(tmp_path), device="cpu")


def test_tokenizer_of_only_special_tokens_is_refused(tmp_path: Path) -> None:
    from tokenizers import Tokenizer, models
    from transformers import BertTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece({t: i for i, t in enumerate(specials)}, unk_token="[UNK]"))
    BertTokenizerFast(tokenizer_object=tok).save_pretrained(tmp_path)
    with pytest.raises(ModelError, match=r"only 0 non-special vocabulary entries"):
        load_tokenizer(str(tmp_path))


def test_tokenizer_fingerprint_ignores_call_state(tiny_xlmr: Path) -> None:
    tok = load_tokenizer(str(tiny_xlmr))
    before = tokenizer_fingerprint(tok)
    tok(["a b c", "d"], truncation=True, max_length=7, padding=True)
    state = (tok.backend_tokenizer.truncation, tok.backend_tokenizer.padding)
    assert tokenizer_fingerprint(tok) == before
    assert (tok.backend_tokenizer.truncation, tok.backend_tokenizer.padding) == state


def test_byt5_python_tokenizer_loads_and_is_fingerprinted_by_its_vocabulary(
        tmp_path: Path) -> None:
    from transformers import ByT5Tokenizer

    ByT5Tokenizer().save_pretrained(tmp_path / "a")
    tok = load_tokenizer(str(tmp_path / "a"))
    assert type(tok) is ByT5Tokenizer and not tok.is_fast
    assert tokenizer_fingerprint(tok) == tokenizer_fingerprint(ByT5Tokenizer())
    # another vocabulary (no sentinel ids) or padding side is another tokenizer
    assert tokenizer_fingerprint(ByT5Tokenizer(extra_ids=0)) != tokenizer_fingerprint(tok)
    tok.padding_side = "left"
    assert tokenizer_fingerprint(tok) != tokenizer_fingerprint(ByT5Tokenizer())


def test_other_python_tokenizers_are_refused_in_one_line(tmp_path: Path) -> None:
    """CANINE's Python tokenizer is not one crossling can fingerprint by its vocabulary."""
    from transformers import CanineTokenizer

    CanineTokenizer().save_pretrained(tmp_path)
    with pytest.raises(ModelError, match=r"CanineTokenizer is a Python tokenizer without a fast "
                                         r"version.*ByT5Tokenizer") as err:
        load_tokenizer(str(tmp_path))
    assert "\n" not in str(err.value)
    with pytest.raises(ModelError, match="cannot fingerprint"):
        tokenizer_fingerprint(CanineTokenizer())


def test_a_tokenizer_needing_a_missing_library_is_one_line(
        tiny_bert: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """M2M100's tokenizer needs sentencepiece: without it transformers raises ImportError,
    which must end as one line naming the model, not a traceback."""
    from transformers import AutoTokenizer

    def needs_sentencepiece(*_args: object, **_kwargs: object) -> None:
        raise ImportError("\nM2M100Tokenizer requires the SentencePiece library but it was not "
                          "found in your environment.\nCheck out the instructions ...")

    monkeypatch.setattr(AutoTokenizer, "from_pretrained", needs_sentencepiece)
    with pytest.raises(ModelError, match=r"cannot load tokenizer \(M2M100Tokenizer requires the "
                                         r"SentencePiece library") as err:
        load_tokenizer(str(tiny_bert))
    assert "\n" not in str(err.value)


def _copy_model(src: Path, dst: Path, drop: str | None = None,
                extra: dict[str, torch.Tensor] | None = None) -> Path:
    """A copy of a model folder, its weights without the tensors whose name contains ``drop``
    and with ``extra`` ones added."""
    import shutil

    from safetensors.torch import load_file, save_file

    shutil.copytree(src, dst)
    weights = load_file(str(dst / "model.safetensors"))
    kept = {k: v for k, v in weights.items() if drop is None or drop not in k}
    save_file({**kept, **(extra or {})}, str(dst / "model.safetensors"),
              metadata={"format": "pt"})
    return dst


def _one_line(exc: pytest.ExceptionInfo[ModelError]) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


def test_missing_block_weights_are_an_error(fixture_bert: Path, tmp_path: Path) -> None:
    """A block missing from the weights file was randomly initialised and used (reported only
    in transformers' load table): now a one-line error naming the tensors, unless asked for."""
    folder = _copy_model(fixture_bert, tmp_path / "m", drop="encoder.layer.1.")
    with pytest.raises(ModelError) as info:
        load_encoder(str(folder), device="cpu")
    line = _one_line(info)
    assert str(folder) in line and "encoder.layer.1." in line and "16 weight tensors" in line
    enc = load_encoder(str(folder), device="cpu", allow_missing_weights=True)
    assert enc.num_layers == 2


def test_unexpected_encoder_weights_are_an_error_head_weights_are_not(
        fixture_bert: Path, tmp_path: Path) -> None:
    """A third block in a 2-block config is an error; a pre-training head's weights (as in every
    Hub checkpoint of mBERT or XLM-R) are not."""
    extra_block = {"encoder.layer.2.output.dense.bias": torch.zeros(32)}
    folder = _copy_model(fixture_bert, tmp_path / "m", extra=extra_block)
    with pytest.raises(ModelError, match=r"encoder\.layer\.2\.output\.dense\.bias") as info:
        load_encoder(str(folder), device="cpu")
    _one_line(info)
    heads = {"cls.predictions.bias": torch.zeros(7), "pooler.dense.bias": torch.zeros(32),
             "bert.embeddings.token_type_ids": torch.zeros(1, 64, dtype=torch.long)}
    ok = _copy_model(fixture_bert, tmp_path / "heads", extra=heads)
    assert load_encoder(str(ok), device="cpu").num_layers == 2


def test_hidden_size_mismatch_is_one_line(fixture_bert: Path, tmp_path: Path) -> None:
    import json
    import shutil

    folder = tmp_path / "m"
    shutil.copytree(fixture_bert, folder)
    config = json.loads((folder / "config.json").read_text())
    config["hidden_size"] = 64
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match=r"another shape than config\.json") as info:
        load_encoder(str(folder), device="cpu")
    assert str(folder) in _one_line(info)


def test_truncated_weights_file_is_one_line(fixture_bert: Path, tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "m"
    shutil.copytree(fixture_bert, folder)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1000])
    with pytest.raises(ModelError, match="cannot load model") as info:
        load_encoder(str(folder), device="cpu")
    assert str(folder) in _one_line(info)


def test_an_m2m100_fingerprint_covers_its_sentencepiece_model(tiny_tokenizers: dict,
                                                             tmp_path: Path) -> None:
    """M2M100's tokenizer loads (a Python SentencePiece one); the same ``vocab.json`` with a
    changed ``sentencepiece.bpe.model`` tokenises otherwise and so fingerprints otherwise, and
    a SentencePiece model that samples is one line."""
    import json

    from sentencepiece import sentencepiece_model_pb2

    from tests.models.tiny_families import m2m100_tokenizer

    m2m100_tokenizer(tiny_tokenizers["bert"]).save_pretrained(tmp_path / "a")
    tok = load_tokenizer(str(tmp_path / "a"))
    assert type(tok).__name__ == "M2M100Tokenizer"
    base = tokenizer_fingerprint(tok)
    assert tokenizer_fingerprint(load_tokenizer(str(tmp_path / "a"))) == base
    proto = sentencepiece_model_pb2.ModelProto()
    spm_file = tmp_path / "a" / "sentencepiece.bpe.model"
    proto.ParseFromString(spm_file.read_bytes())
    proto.normalizer_spec.add_dummy_prefix = False  # no "▁" before the text's first word
    (tmp_path / "b").mkdir()
    for f in (tmp_path / "a").iterdir():
        (tmp_path / "b" / f.name).write_bytes(f.read_bytes())
    (tmp_path / "b" / spm_file.name).write_bytes(proto.SerializeToString())
    other = load_tokenizer(str(tmp_path / "b"))
    assert other.get_vocab() == tok.get_vocab()
    assert other.tokenize("Katze") != tok.tokenize("Katze")
    assert tokenizer_fingerprint(other) != base
    config = tmp_path / "b" / "tokenizer_config.json"
    settings = json.loads(config.read_text(encoding="utf-8"))
    settings["sp_model_kwargs"] = {"enable_sampling": True, "alpha": 0.1, "nbest_size": -1}
    config.write_text(json.dumps(settings), encoding="utf-8")
    with pytest.raises(ModelError, match=r"samples a new tokenisation at each call") as err:
        load_tokenizer(str(tmp_path / "b"))
    assert "\n" not in str(err.value)
