"""Every model family on a tiny random model: blocks, RANDOM-INIT, padding, word positions,
vocabulary trimming and the task heads (fast; the whole-study run is in
test_families_end_to_end.py)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from torch import nn

from crossling.core.errors import ModelError
from crossling.models.encoder import (
    BOUNDARY_MARKERS,
    Encoder,
    encode_words,
    forward_inputs,
    load_encoder,
    prepare_tokenizer,
    transformer_layers,
    word_position,
)
from crossling.models.families import FAMILIES, family_for_type, family_of
from crossling.models.heads import BiaffineParser, TokenTagger
from crossling.models.languages import source_language
from crossling.models.reinit import ReinitSettings, reinit
from crossling.models.vocab import merge_vocabulary, trim_vocabulary
from crossling.similarity.extract import Forward, extract
from tests.models.tiny_families import MODELS, TINY, VARIANTS, build_family_model, model_type_of

SENTENCES = [["Le", "chat", "dort", "profondément", "."], ["Hello"],
             ["Die", "Katze", "schläft", "tief", "und", "fest", "."]]


@pytest.fixture(scope="module")
def family_models(tmp_path_factory: pytest.TempPathFactory,
                  tiny_tokenizers: dict) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("families")
    return {t: build_family_model(root / t, t, tiny_tokenizers["bert"]) for t in MODELS}


def _load(family_models: dict[str, Path], model_type: str, side: str = "right") -> Encoder:
    """The tiny model, its tokenizer set to English for the families with language codes
    (mBART-50, NLLB: tokenising outside `source_language` is refused); fresh per test."""
    enc = load_encoder(str(family_models[model_type]), device="cpu")
    enc.tokenizer.padding_side = side
    _ENGLISH.enter_context(source_language(enc.tokenizer, "en"))
    return enc


_ENGLISH = contextlib.ExitStack()


@pytest.fixture(autouse=True)
def _english_until_the_test_ends() -> Iterator[None]:
    yield
    _ENGLISH.close()


def test_every_family_has_a_tiny_model_and_every_model_type_a_family() -> None:
    covered = {family_for_type(t).name for t in TINY}
    assert covered == set(FAMILIES)
    assert {t for f in FAMILIES.values() for t in f.model_types} == set(TINY)
    assert {(v, f.model_types[0]) for f in FAMILIES.values() for v, _ in f.variants} == \
        set(VARIANTS.items())


def test_an_unknown_family_is_one_line_naming_the_supported_and_how_to_add() -> None:
    class NotAModel(nn.Module):
        pass

    with pytest.raises(ModelError) as err:
        transformer_layers(NotAModel())
    msg = str(err.value)
    assert "\n" not in msg and "not a supported family" in msg
    assert "llama" in msg and "bert" in msg and "src/crossling/models/families/" in msg


@pytest.mark.parametrize("model_type", MODELS)
def test_blocks_hidden_states_and_components_cover_every_tensor(
        family_models: dict[str, Path], model_type: str) -> None:
    enc = _load(family_models, model_type)
    family = family_of(enc.model)
    assert enc.num_layers == 2 and family.model_types.count(model_type_of(model_type)) == 1
    batch = encode_words(enc.tokenizer, SENTENCES)
    out = enc.model(**forward_inputs(enc.model, batch.inputs), output_hidden_states=True,
                    return_dict=True)
    assert len(out.hidden_states) == 3 and all(torch.isfinite(h).all() for h in out.hidden_states)
    # every tensor of a block is in one component, so "all" re-initialises the whole block
    for block in transformer_layers(enc.model):
        for path, module in block.named_modules():
            if any(True for _ in module.parameters(recurse=False)):
                assert family.component(path) is not None, path
    assert word_position(enc.tokenizer) == ("last" if family.causal else "first")


@pytest.mark.parametrize("model_type", MODELS)
@pytest.mark.parametrize("group", [[1], [2]])
def test_random_init_changes_exactly_the_chosen_block(family_models: dict[str, Path],
                                                      model_type: str, group: list[int]) -> None:
    enc = _load(family_models, model_type)
    before = {k: v.clone() for k, v in enc.model.state_dict().items()}
    block = transformer_layers(enc.model)[group[0] - 1]
    names = {n for n, m in enc.model.named_modules() if m is block}
    prefix = next(iter(names)) + "."
    report = reinit(enc.model, group, ReinitSettings(seed=3))
    after = enc.model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    inside = {k for k in before if k.startswith(prefix)}
    assert changed == set(report.changed) and changed <= inside
    assert set(report.changed) | set(report.unchanged_by_construction) == inside
    # at least every weight matrix of the block was drawn anew
    assert {k for k in inside if after[k].dim() >= 2} <= changed


@pytest.mark.parametrize("model_type", MODELS)
def test_random_init_of_the_embeddings(family_models: dict[str, Path], model_type: str) -> None:
    enc = _load(family_models, model_type)
    report = reinit(enc.model, [], ReinitSettings(embeddings=True, scheme="normal"))
    word = enc.model.get_input_embeddings().weight
    names = {n for n, p in enc.model.named_parameters() if p is word}
    assert names & set(report.changed)
    assert not any(".1." in n or ".0." in n for n in report.changed)  # no block touched


def _alone_and_batched(enc: Encoder, pooling: str) -> tuple[torch.Tensor, torch.Tensor]:
    texts = [" ".join(s) for s in SENTENCES]
    fwd = Forward(precision="fp32")
    alone = torch.stack([extract(enc, [t], pooling, fwd, progress=False)[:, 0] for t in texts], 1)
    return alone, extract(enc, texts, pooling, fwd, progress=False)


@pytest.mark.parametrize("model_type", MODELS)
@pytest.mark.parametrize("side", ["left", "right"])
def test_padding_side_changes_no_vector(family_models: dict[str, Path], model_type: str,
                                        side: str) -> None:
    enc = _load(family_models, model_type, side)
    if side == "left" and family_of(enc.model).pad_right:  # mBART: positions from token 0
        with pytest.raises(ModelError, match="pad on the right"):
            _alone_and_batched(enc, "mean")
        prepare_tokenizer(enc.tokenizer, family_of(enc.model))  # as loading does
        assert enc.tokenizer.padding_side == "right"
        return
    for pooling in ("mean", "last_token", "first_subword"):
        alone, batched = _alone_and_batched(enc, pooling)
        torch.testing.assert_close(batched, alone, atol=2e-5, rtol=1e-4, msg=pooling)
    # word vectors of the task heads: each sentence alone vs in the padded batch
    batch = encode_words(enc.tokenizer, SENTENCES)
    with torch.no_grad():
        hidden = enc.model(**forward_inputs(enc.model, batch.inputs)).last_hidden_state
        for b, words in enumerate(SENTENCES):
            one = encode_words(enc.tokenizer, [words])
            solo = enc.model(**forward_inputs(enc.model, one.inputs)).last_hidden_state
            got = hidden[b, batch.first_subword[b, :len(words)]]
            torch.testing.assert_close(got, solo[0, one.first_subword[0, :len(words)]],
                                       atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("model_type", MODELS)
def test_causal_words_are_read_at_their_last_sub_token(family_models: dict[str, Path],
                                                       model_type: str) -> None:
    enc = _load(family_models, model_type)
    batch = encode_words(enc.tokenizer, [["profondément", "Katze"]])
    ids = batch.inputs["input_ids"][0].tolist()
    for w in range(2):
        pos = int(batch.first_subword[0, w])
        tokens = (batch.word_index[0] == w).nonzero().flatten().tolist()
        # an encoder's word starts at its first sub-token, after a bare boundary (ByT5's space)
        bare = enc.tokenizer.convert_ids_to_tokens(ids[tokens[0]]) in BOUNDARY_MARKERS
        assert pos == (tokens[-1] if family_of(enc.model).causal else tokens[int(bare)])


@pytest.mark.parametrize("model_type", MODELS)
def test_vocabulary_trimming_is_exact_and_heads_train(family_models: dict[str, Path],
                                                      model_type: str) -> None:
    side = "right" if family_for_type(model_type_of(model_type)).pad_right else "left"
    enc = _load(family_models, model_type, side)
    batch = encode_words(enc.tokenizer, SENTENCES)
    tagger = TokenTagger(enc.model, 5).eval()
    with torch.no_grad():
        full = tagger(batch.inputs, batch.first_subword)
    trim_vocabulary(enc.model, enc.tokenizer, SENTENCES, 64)
    with torch.no_grad():
        assert torch.equal(tagger(batch.inputs, batch.first_subword), full)
    assert merge_vocabulary(enc.model)
    parser = BiaffineParser(enc.model, 3, arc_dim=8, rel_dim=8)
    arc, rel_dep, rel_head = parser(batch.inputs, batch.first_subword)
    assert arc.shape == (3, 7, 8) and torch.isfinite(arc).all()
    (arc.sum() + rel_dep.sum() + rel_head.sum()).backward()
    first_block = transformer_layers(enc.model)[0]
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in first_block.parameters())


@pytest.mark.parametrize("model_type", [t for t in MODELS
                                        if family_for_type(model_type_of(t)).encoder_of])
def test_a_seq2seq_checkpoint_loads_as_its_encoder_and_a_saved_encoder_reloads(
        family_models: dict[str, Path], model_type: str, tmp_path: Path) -> None:
    import transformers

    # a Hub-style checkpoint: the whole generation model, with its LM head
    config = transformers.AutoConfig.from_pretrained(family_models[model_type])
    full = transformers.AutoModelForSeq2SeqLM.from_config(config)
    full.save_pretrained(tmp_path / "hub")
    enc = load_encoder(str(family_models[model_type]), device="cpu")
    enc.tokenizer.save_pretrained(tmp_path / "hub")
    hub = load_encoder(str(tmp_path / "hub"), device="cpu")
    stack = full.get_encoder()
    assert type(hub.model) is type(stack) and not hasattr(hub.model, "decoder")
    expected = stack.state_dict()
    assert hub.model.state_dict().keys() == expected.keys()
    assert all(torch.equal(v, expected[k]) for k, v in hub.model.state_dict().items())
    # the stack saved alone (as fine-tuning saves it) reloads as the stack, same vectors
    enc.model.save_pretrained(tmp_path / "alone")
    enc.tokenizer.save_pretrained(tmp_path / "alone")
    again = load_encoder(str(tmp_path / "alone"), device="cpu")
    assert type(again.model) is type(enc.model)
    with source_language(enc.tokenizer, "en"):
        batch = encode_words(enc.tokenizer, SENTENCES)
    with torch.no_grad():
        a = enc.model(**forward_inputs(enc.model, batch.inputs), output_hidden_states=True)
        b = again.model(**forward_inputs(again.model, batch.inputs)).last_hidden_state
    assert torch.equal(a.last_hidden_state, b)
    # the last hidden state is after the stack's final layer norm, as transformers returns it
    assert torch.equal(a.hidden_states[-1], a.last_hidden_state)
