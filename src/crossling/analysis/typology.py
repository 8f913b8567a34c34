"""Typological distance of each PUD language to English, from URIEL (via ``lang2vec``).

The covariate of the partial P6 test: the cosine distance between two languages' URIEL vectors,
``syntax_knn`` by default (103 syntactic features, gaps filled by lang2vec's kNN predictions,
so every language has a complete vector). The vectors are read from the data files the
``lang2vec`` package ships (``pip install 'crossling[stats]'``), found through
``importlib.metadata``: its module is never imported, since it needs ``pkg_resources`` (gone
from setuptools >= 81) and a script it installs shadows it under a console script.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from crossling.analysis.frames import language_code
from crossling.core.errors import ConfigError

PUD_ISO3: dict[str, tuple[str, ...]] = {
    "en": ("eng",), "ar": ("arb", "ara"), "cs": ("ces",), "de": ("deu",), "es": ("spa",),
    "fi": ("fin",), "fr": ("fra",), "hi": ("hin",), "id": ("ind",), "it": ("ita",),
    "ja": ("jpn",), "ko": ("kor",), "pl": ("pol",), "pt": ("por",), "ru": ("rus",),
    "sv": ("swe",), "th": ("tha",), "tr": ("tur",), "zh": ("cmn", "zho")}
"""ISO 639-1 code of each PUD language -> its ISO 639-3 code(s) in URIEL, preferred first:
Arabic is the standard ``arb`` and Chinese Mandarin ``cmn`` (complete vectors); the
macrolanguage codes ``ara``/``zho`` are used only where the first lacks the features."""
FEATURE_SETS: dict[str, tuple[str, str, str]] = {
    "syntax_knn": ("feature_predictions.npz", "predicted", "S_"),
    "phonology_knn": ("feature_predictions.npz", "predicted", "P_"),
    "inventory_knn": ("feature_predictions.npz", "predicted", "INV_"),
    "fam": ("family_features.npz", "FAM", ""),
}
"""Feature set -> (lang2vec data file, source, feature-name prefix), as in lang2vec (a file
``data/<file>.npz`` holds ``data`` [languages, features, sources], ``langs``, ``feats``,
``sources``). ``syntax_knn`` is the default; ``fam`` is language-family membership."""
MISSING = -1.0
"""lang2vec's value for a feature without data."""


def _data_file(filename: str) -> Path:
    """``lang2vec/data/<filename>`` of the installed lang2vec distribution.

    Found through the distribution's metadata, not by importing ``lang2vec``: the package also
    installs a *script* ``bin/lang2vec.py``, and under the ``crossling`` console script (whose
    folder is first on ``sys.path``) ``import lang2vec`` runs that script instead."""
    try:
        dist = metadata.distribution("lang2vec")
    except metadata.PackageNotFoundError:
        raise ConfigError("typological distances need the lang2vec package: "
                          "pip install 'crossling[stats]'") from None
    path = Path(str(dist.locate_file(f"lang2vec/data/{filename}")))
    if not path.is_file():
        raise ConfigError(f"{path}: not in the installed lang2vec distribution; reinstall "
                          "it (pip install --force-reinstall lang2vec)")
    return path


def _vectors(feature_set: str, codes: list[str]) -> dict[str, np.ndarray]:
    """Feature vector of each ISO 639-3 code present in the data with no missing feature."""
    if feature_set not in FEATURE_SETS:
        raise ConfigError(f"unknown typological feature set {feature_set!r}; known: "
                          f"{', '.join(FEATURE_SETS)}")
    filename, source, prefix = FEATURE_SETS[feature_set]
    path = _data_file(filename)
    with np.load(path) as db:
        langs = {str(code): i for i, code in enumerate(db["langs"])}
        feats = [i for i, name in enumerate(db["feats"]) if str(name).startswith(prefix)]
        src = [str(s) for s in db["sources"]].index(source)
        wanted = [c for c in codes if c in langs]
        data = db["data"]
        out = {}
        for code in wanted:
            vec = np.asarray(data[langs[code], feats, src], dtype=float)
            if not np.any(vec == MISSING) and np.linalg.norm(vec) > 0:
                out[code] = vec
    return out


def distance_to(languages: Iterable[str] | None = None, *, reference: str = "en",
                feature_set: str = "syntax_knn") -> pd.Series:
    """Cosine distance (0 = same vector; in [0, 2]) of each language's URIEL ``feature_set``
    vector to ``reference``'s; a Series indexed by ISO 639-1 code.

    ``languages`` are PUD codes or labels (``fr``, ``fr_pud``; default: every PUD language
    but the reference). An unknown code, or one without features, is a one-line ConfigError.
    """
    codes = [language_code(x) for x in languages] if languages is not None else [
        c for c in PUD_ISO3 if c != language_code(reference)]
    codes = list(dict.fromkeys(codes))
    ref = language_code(reference)
    for code in [ref, *codes]:
        if code not in PUD_ISO3:
            raise ConfigError(f"no typological data for language {code!r}; known: "
                              f"{', '.join(sorted(PUD_ISO3))}")
    candidates = sorted({iso for c in [ref, *codes] for iso in PUD_ISO3[c]})
    vectors = _vectors(feature_set, candidates)

    def vector(code: str) -> np.ndarray:
        for iso in PUD_ISO3[code]:
            if iso in vectors:
                return vectors[iso]
        raise ConfigError(f"language {code!r} ({'/'.join(PUD_ISO3[code])}) has no complete "
                          f"{feature_set} vector in URIEL")

    e = vector(ref)
    dist = {}
    for code in codes:
        v = vector(code)
        cos = float(v @ e / (np.linalg.norm(v) * np.linalg.norm(e)))
        dist[code] = float(np.clip(1.0 - cos, 0.0, 2.0))
    return pd.Series(dist, name=f"{feature_set}_distance", dtype=float).rename_axis("language")


FAMILY_LEVELS = ("family", "branch")
"""`families` levels: the top Glottolog clade (Indo-European) or the one below it (Germanic)."""


def families(languages: Iterable[str] | None = None, *, level: str = "family") -> pd.Series:
    """Language family of each PUD language from URIEL's Glottolog-derived ``fam`` features
    (lang2vec); a Series of names (``Indo-European``) indexed by ISO 639-1 code.

    URIEL gives a language one feature per clade it belongs to, nested; the clade with the
    most member languages in URIEL is the top-level family (``level="family"``), the next
    largest its branch (``level="branch"``: Germanic, Italic, Balto-Slavic; a language whose
    family has no sub-clade in URIEL is its own family there).
    """
    if level not in FAMILY_LEVELS:
        raise ConfigError(f"unknown family level {level!r}; known: {', '.join(FAMILY_LEVELS)}")
    codes = [language_code(x) for x in languages] if languages is not None else list(PUD_ISO3)
    codes = list(dict.fromkeys(codes))
    for code in codes:
        if code not in PUD_ISO3:
            raise ConfigError(f"no family data for language {code!r}; known: "
                              f"{', '.join(sorted(PUD_ISO3))}")
    filename, _, prefix = FEATURE_SETS["fam"]
    with np.load(_data_file(filename)) as db:
        index = {str(code): i for i, code in enumerate(db["langs"])}
        names = [str(n) for n in db["feats"]]
        member = np.asarray(db["data"][:, :, 0]) == 1
    size = member.sum(axis=0)
    out = {}
    for code in codes:
        iso = next((c for c in PUD_ISO3[code] if c in index and member[index[c]].any()), None)
        if iso is None:
            raise ConfigError(f"language {code!r} ({'/'.join(PUD_ISO3[code])}) has no family "
                              "in URIEL")
        clades = sorted(np.flatnonzero(member[index[iso]]), key=lambda j: (-size[j], names[j]))
        pick = clades[0] if level == "family" or len(clades) == 1 else clades[1]
        out[code] = names[pick].removeprefix(prefix).removeprefix("F_")
    return pd.Series(out, name=level, dtype=object).rename_axis("language")
