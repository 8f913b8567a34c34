"""``crossling probe`` as one call: resolve the files, check everything, load the model, probe.

Every setting and file is checked before the model loads (a bad option costs seconds): the
settings by their rules, the device, the files, the layers against the model's config, the
test sentences against the training ones and the bootstrap's memory (`read_probe_data`).
"""

from __future__ import annotations

from pathlib import Path

from crossling.core.devices import pick_device
from crossling.core.errors import ConfigError, ModelError
from crossling.data.leakage import check_training_splits
from crossling.data.resolve import pud_languages
from crossling.data.specs import DataFolders, check_distinct, resolve_spec
from crossling.models.config import num_blocks, read_config
from crossling.models.encoder import Encoder, load_encoder
from crossling.models.names import check_model_name
from crossling.probing.data import read_probe_data
from crossling.probing.run import probe_layers
from crossling.probing.settings import ProbeSettings, check_layers
from crossling.results import ScoreRow


def probe_files(data: str | Path, settings: ProbeSettings) -> tuple[Path, dict[str, Path]]:
    """The training file and the test files (source first, then each target) of a probe,
    resolved in ``data`` (the UD folder or its parent); targets None: every other PUD
    language. A target equal to the source, or a test split as training file unless
    ``settings.allow_test_training``, is a ConfigError."""
    folders = DataFolders.under(data)
    if folders.ud is None or not folders.ud.is_dir():
        raise ConfigError(f"{data}: UD data folder does not exist")
    source, source_train = settings.source, settings.source_train
    langs = list(settings.targets) if settings.targets is not None else \
        [x for x in pud_languages(folders.ud) if x != source]
    train_file = resolve_spec("pos", source_train, "train", folders)
    check_training_splits("train", [(source_train, train_file)], settings.allow_test_training)
    tests = [(lang, resolve_spec("pos", lang, "test", folders)) for lang in [source, *langs]]
    check_distinct("targets", tests, source=source)
    return train_file, dict(tests)


def _num_layers(model: str | Encoder) -> int:
    """Transformer blocks of ``model``, from its config (before any weights are loaded)."""
    if isinstance(model, Encoder):
        return model.num_layers
    check_model_name(model)
    n = num_blocks(read_config(model))
    if n is None:
        raise ModelError(f"{model}: the config has no num_hidden_layers")
    return n


def probe(model: str | Encoder, data: str | Path, settings: ProbeSettings | None = None, *,
          cache_dir: str | Path | None = None, progress: bool = True) -> list[ScoreRow]:
    """Fit a linear UPOS probe per layer on ``settings.source_train`` and score it on the
    source and every target: the rows of ``crossling probe`` (and of a study's probe cell).

    ``model``: a Hub name, a local folder or a loaded `Encoder`; ``data``: the UD folder (or
    its parent holding ``ud/``), where the settings' specs are resolved. ``cache_dir`` keeps
    the word vectors (default: a temporary folder). Rows: see `crossling.probing.run`.
    """
    settings = settings or ProbeSettings()
    pick_device(settings.device)  # a bad device fails before data and model are read
    train_file, files = probe_files(data, settings)
    check_layers(settings.layers, _num_layers(model))
    prepared = read_probe_data(train_file, files, settings)
    encoder = model if isinstance(model, Encoder) else \
        load_encoder(model, device=settings.device)
    return probe_layers(encoder, prepared, settings, cache_dir=cache_dir, progress=progress)
