from __future__ import annotations

from pathlib import Path

import pytest
import torch

from crossling.core.errors import ConfigError, ModelError
from crossling.models.encoder import load_encoder
from crossling.models.reinit import (
    SCHEMES,
    ReinitSettings,
    expand_groups,
    parse_group,
    preset_groups,
    reinit,
    relative_depth,
    resolve_group,
)


def _snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("scheme", SCHEMES)
def test_exactly_the_chosen_blocks_change(tiny_model: Path, scheme: str) -> None:
    enc = load_encoder(str(tiny_model), device="cpu")
    before = _snapshot(enc.model)
    report = reinit(enc.model, [2, 3], ReinitSettings(scheme=scheme, seed=1))
    after = enc.model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    in_blocks = {k for k in before if k.startswith(("encoder.layer.1.", "encoder.layer.2."))}
    assert changed <= in_blocks
    assert set(report.changed) == changed
    assert set(report.changed) | set(report.unchanged_by_construction) == in_blocks
    # every weight matrix of the chosen blocks got new values
    assert all(k in changed for k in in_blocks if k.endswith("dense.weight"))
    if scheme in ("model", "normal"):
        w = after["encoder.layer.1.intermediate.dense.weight"]
        assert abs(float(w.std()) - 0.02) < 0.003  # BERT's N(0, 0.02), not PyTorch's uniform
        assert float(after["encoder.layer.1.intermediate.dense.bias"].abs().max()) == 0.0
    else:
        assert float(after["encoder.layer.1.intermediate.dense.bias"].abs().max()) > 0.0


def test_components_and_embeddings(tiny_bert: Path) -> None:
    enc = load_encoder(str(tiny_bert), device="cpu")
    report = reinit(enc.model, [1], ReinitSettings(components=["attention"], scheme="normal",
                                                   seed=3))
    assert report.changed and all(".attention." in k and "LayerNorm" not in k
                                  for k in report.changed)
    report = reinit(enc.model, [], ReinitSettings(scheme="normal", embeddings=True, seed=4))
    assert "embeddings.word_embeddings.weight" in report.changed
    assert all(k.startswith("embeddings.") for k in report.changed)


def test_the_transformers5_no_op_trap_is_defeated(tiny_bert: Path) -> None:
    """Loaded weights are flagged initialised; plain _init_weights would leave them alone."""
    enc = load_encoder(str(tiny_bert), device="cpu")
    w = enc.model.encoder.layer[0].output.dense.weight
    before = w.clone()
    reinit(enc.model, [1], ReinitSettings(scheme="model", seed=0))
    assert not torch.equal(before, w)


def test_bad_selections(tiny_bert: Path) -> None:
    enc = load_encoder(str(tiny_bert), device="cpu")
    with pytest.raises(ConfigError, match=r"layer 5 out of range 1\.\.4"):
        reinit(enc.model, [5])
    with pytest.raises(ConfigError, match=r"^components\[0\] must be one of attention, ffn, "
                                          r"layernorm, got 'mlp'"):
        ReinitSettings(components=["mlp"])
    with pytest.raises(ConfigError, match=r"^scheme must be one of model, normal, torch_default"):
        ReinitSettings(scheme="xavier")
    with pytest.raises(ModelError, match="matches no tensor"):
        reinit(enc.model, [1], ReinitSettings(components=[]))
    with pytest.raises(ModelError, match=r"not a supported family"):
        reinit(torch.nn.Linear(2, 2), [1])


def test_parse_group() -> None:
    assert parse_group("REF") == ([], False)
    assert parse_group("1-2") == ([1, 2], False)
    assert parse_group("11-12") == ([11, 12], False)
    assert parse_group("emb,3") == ([3], True)
    with pytest.raises(ConfigError, match="bad re-init group"):
        parse_group("a-b")


@pytest.mark.parametrize("spelling", ["1-2", " 1-2", "1-2 ", "1-2,1-2", "1,2", "\uff11-\uff12",
                                      "\uff11\uff0d\uff12", "1\u20132", "01-02", "2,1"])
def test_spellings_of_one_group_have_one_label(spelling: str) -> None:
    from crossling.models.reinit import canonical_group

    assert parse_group(spelling) == ([1, 2], False)
    assert canonical_group(spelling) == "1-2"


def test_canonical_labels() -> None:
    from crossling.models.reinit import canonical_group

    assert canonical_group(" ref ") == "REF"
    assert canonical_group("Emb, 3") == "emb,3"
    assert canonical_group("5,1-2,emb,3") == "emb,1-3,5"
    for bad, message in (("", "empty re-init group"), ("  ", "empty re-init group"),
                         ("0-1", "1-based"), ("1-", "bad re-init group")):
        with pytest.raises(ConfigError, match=message):
            canonical_group(bad)


def test_finetune_settings_and_folder_use_the_canonical_group(fixture_dir: Path) -> None:
    from crossling.data.specs import TaskFiles
    from crossling.workflows.finetune import FinetuneSettings, default_out_dir, manifest_settings

    files = [fixture_dir / "ud" / "UD_English-Fixture" / "en_fixture-ud-test.conllu"]
    made = [manifest_settings(FinetuneSettings(task="pos", model="m", reinit=g),
                              TaskFiles(files, files, "en", {"en": files[0]}))
            for g in ("1-2", " 1-2", "1-2,1-2", "\uff11-\uff12")]
    assert all(s == made[0] for s in made) and made[0]["reinit_group"] == "1-2"
    assert len({default_out_dir(s) for s in made}) == 1


# --- presets: groups for any depth ------------------------------------------------------------


@pytest.mark.parametrize(("preset", "blocks", "groups"), [
    ("thirds", 12, ["1-4", "5-8", "9-12"]),
    ("quarters", 32, ["1-8", "9-16", "17-24", "25-32"]),
    ("thirds", 30, ["1-10", "11-20", "21-30"]),
    ("quarters", 26, ["1-7", "8-14", "15-20", "21-26"]),  # remainder to the lowest groups
    ("pairs", 12, ["1-2", "3-4", "5-6", "7-8", "9-10", "11-12"]),
    ("pairs", 7, ["1-2", "3-4", "5-6", "7"]),  # odd depth: the top block alone
    ("each", 3, ["1", "2", "3"]),
    ("thirds:2", 12, ["5-8"]),
    (" Quarters : 4 ", 26, ["21-26"]),
])
def test_presets_expand_against_the_depth(preset: str, blocks: int, groups: list[str]) -> None:
    assert preset_groups(preset, blocks) == groups


@pytest.mark.parametrize("blocks", range(1, 41))
@pytest.mark.parametrize("preset", ["pairs", "thirds", "quarters", "each"])
def test_a_preset_covers_every_block_once_in_order(preset: str, blocks: int) -> None:
    if preset in ("thirds", "quarters") and blocks < {"thirds": 3, "quarters": 4}[preset]:
        with pytest.raises(ConfigError, match=f"needs at least .* the model has {blocks}"):
            preset_groups(preset, blocks)
        return
    layers = [k for g in preset_groups(preset, blocks) for k in parse_group(g)[0]]
    assert layers == list(range(1, blocks + 1))
    sizes = [len(parse_group(g)[0]) for g in preset_groups(preset, blocks)]
    assert max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True)


def test_expand_groups_keeps_explicit_labels_and_drops_repeats() -> None:
    # explicit groups keep the label they had (cell keys of existing studies are unchanged)
    assert expand_groups(["REF", " 1,2", "pairs", "thirds:2"], 6) == ["REF", "1-2", "3-4",
                                                                       "5-6"]
    assert expand_groups(["REF", "emb,1-2", "11-12"], None) == ["REF", "emb,1-2", "11-12"]
    with pytest.raises(ConfigError, match="needs the depth of m"):
        expand_groups(["pairs"], None, "m")


def test_one_group_of_a_preset_or_a_clear_refusal() -> None:
    assert resolve_group("quarters:1", 26) == "1-7"
    assert resolve_group("1,2", None) == "1-2"
    with pytest.raises(ConfigError, match=r"'thirds' is 3 groups .* \(1-4, 5-8, 9-12\).*"
                                          r"thirds:1 \.\. thirds:3"):
        resolve_group("thirds", 12)
    with pytest.raises(ConfigError, match=r"pairs of 3 blocks has 2 groups \(1-2, 3\)"):
        resolve_group("pairs:3", 3)
    with pytest.raises(ConfigError, match="k >= 1"):
        resolve_group("pairs:0", 3)


def test_relative_depth_of_layers_and_groups() -> None:
    assert relative_depth(0, 12) == 0.0 and relative_depth(12, 12) == 1.0
    assert relative_depth(3, 6) == 0.5
    assert relative_depth("1-2", 12) == pytest.approx(1 / 12)
    assert relative_depth("11-12", 12) == pytest.approx(11 / 12)
    assert relative_depth("3", 4) == pytest.approx(0.625)  # block 3 spans (0.5, 0.75]
    assert relative_depth("emb", 4) == 0.0 and relative_depth("REF", 4) is None
    # the same share of the depth sits at the same place in a 12- and a 24-block model
    for preset in ("thirds:2", "quarters:1", "quarters:4"):
        assert relative_depth(preset_groups(preset, 12)[0], 12) == \
            pytest.approx(relative_depth(preset_groups(preset, 24)[0], 24))
    assert relative_depth(preset_groups("thirds:2", 24)[0], 24) == pytest.approx(0.5)
