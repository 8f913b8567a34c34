"""What enters a similarity measure, retrieval or a probe, checked in one place.

Non-finite vectors turn every measure into NaN or a chance-level number, and (near-)constant
vectors make CKA 1.000 with a zero-width interval: neither is a finding, so
`check_vectors` refuses both with one line naming where (layer and language, or ``x`` /
``y``). Arrays may be tensors, NumPy arrays or nested lists (`as_matrix`); a bare string
where names are expected is one name (`as_names`). Memory for resamples, the model's
positions, the languages of a corpus and layer ranges are checked here too, before any work.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from crossling.core.checks import check_count
from crossling.core.errors import ConfigError, CrosslingError
from crossling.data.parallel import ParallelCorpus
from crossling.models.config import usable_positions

VARIANCE_TOL = 1e-6
"""Vectors whose total variance is at most this fraction of their mean squared norm are refused
as (near-)constant: no similarity, retrieval or probe result is defined on them."""


class VectorError(CrosslingError, ValueError):
    """Vectors that cannot give a result: non-finite, (near-)constant, or not an [n, d] array.

    A `CrosslingError` (the CLI prints one line and exits 2) and a
    ValueError (what the measures raised for a bad shape before)."""


# --- arrays ------------------------------------------------------------------------------------


def as_matrix(x: Any, name: str = "x") -> torch.Tensor:
    """``x`` (a tensor, NumPy array or list of rows) as a 2-D floating tensor [n, d], n, d >= 1.

    A tensor stays where it is; a floating dtype is kept, anything else numeric becomes float64.
    VectorError naming ``name`` for anything else (a string, ragged rows, objects, a 1-D or
    3-D array, no rows)."""
    if isinstance(x, torch.Tensor):
        t = x
    elif isinstance(x, np.ndarray | list | tuple):
        try:
            arr = np.asarray(x)
        except ValueError:  # ragged nested lists
            raise VectorError(f"{name}: not a rectangular array of numbers (rows of "
                              "different lengths)") from None
        if arr.dtype.kind not in "biuf":
            raise VectorError(f"{name}: expected numbers, got an array of dtype {arr.dtype}")
        t = torch.from_numpy(np.ascontiguousarray(arr))
    else:
        raise VectorError(f"{name}: expected a tensor, NumPy array or list of rows [n, d], got "
                          f"{type(x).__name__}")
    if t.is_complex():
        raise VectorError(f"{name}: expected real numbers, got dtype {t.dtype}")
    if not t.is_floating_point():
        t = t.to(torch.float64)
    if t.ndim != 2:
        raise VectorError(f"{name}: expected a 2-D array [n, d] of vectors, got shape "
                          f"{tuple(t.shape)}")
    if t.shape[0] == 0 or t.shape[1] == 0:
        raise VectorError(f"{name}: no vectors (shape {tuple(t.shape)})")
    return t


def as_pair(x: Any, y: Any, names: tuple[str, str] = ("x", "y"),
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Both sides as `as_matrix`, pairing the same n rows (VectorError otherwise)."""
    tx, ty = as_matrix(x, names[0]), as_matrix(y, names[1])
    if tx.shape[0] != ty.shape[0]:
        raise VectorError(f"{names[0]} and {names[1]} must pair the same rows: "
                          f"{tx.shape[0]} vs {ty.shape[0]}")
    return tx, ty


# --- vectors -----------------------------------------------------------------------------------


_CHUNK_ROWS = 1 << 14
"""Rows read at a time by `vector_problem` (bounds its float64 temporaries)."""


def vector_problem(x: torch.Tensor, variance: bool = True) -> str | None:
    """Why the [n, d] vectors ``x`` cannot give a result (the end of a sentence), or None.

    Read in row chunks with float64 sums, so that checking 200k training words costs no
    float64 copy of them: the total variance is ``mean |x_i|^2 - |mean x_i|^2``."""
    n = x.shape[0]
    bad = nan = inf = 0
    col_sum = torch.zeros(x.shape[1], dtype=torch.float64, device=x.device)
    sq_sum = 0.0
    for part in x.split(_CHUNK_ROWS):
        finite = torch.isfinite(part)
        if not bool(finite.all()):
            bad += int((~finite).any(dim=1).sum())
            nan += int(torch.isnan(part).sum())
            inf += int(torch.isinf(part).sum())
            continue
        p64 = part.to(torch.float64)
        col_sum += p64.sum(dim=0)
        sq_sum += float((p64 * p64).sum())
    if bad:
        kinds = " and ".join(k for k, count in (("NaN", nan), ("inf", inf)) if count)
        return f"contain {kinds} (non-finite values in {bad} of {n} rows)"
    if not variance or n < 2:
        return None
    mean_sq = sq_sum / n
    total_var = max(0.0, mean_sq - float((col_sum / n).square().sum()))
    if total_var > VARIANCE_TOL * mean_sq:
        return None
    if bool((x == x[:1]).all()):
        what = "are all zero" if mean_sq == 0 else "are all the same vector"
        return f"{what} ({n} rows): no variance"
    return (f"have near-zero variance (total variance {total_var:.3g} <= {VARIANCE_TOL:g} x "
            f"the mean squared norm {mean_sq:.3g}, over {n} rows)")


def check_vectors(x: Any, where: str, what: str = "vectors", *,
                  variance: bool = True) -> torch.Tensor:
    """``x`` as `as_matrix`; VectorError ``"<where>: <what> <problem>"`` (e.g. ``layer 7
    of fr: sentence vectors contain NaN (non-finite values in 1000 of 1000 rows)``) when it
    is non-finite or, with ``variance``, (near-)constant (`vector_problem`)."""
    t = as_matrix(x, where)
    problem = vector_problem(t, variance)
    if problem is not None:
        raise VectorError(f"{where}: {what} {problem}")
    return t


def checked_pair(x: Any, y: Any, names: tuple[str, str] = ("x", "y"), what: str = "vectors",
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """`as_pair` and `check_vectors` of each side: every measure's precondition."""
    tx, ty = as_pair(x, y, names)
    return check_vectors(tx, names[0], what), check_vectors(ty, names[1], what)


def check_layers_of(vectors: torch.Tensor | Mapping[int, torch.Tensor], layers: Sequence[int],
                    where: str, what: str = "sentence vectors") -> None:
    """`check_vectors` of each of ``layers`` of per-layer vectors ([layers, n, d], or
    ``{layer: [n, d]}``), named ``layer <k> of <where>``: before any measure runs on them."""
    for layer in layers:
        check_vectors(vectors[layer], f"layer {layer} of {where}", what)


# --- arguments ---------------------------------------------------------------------------------


def as_names(value: Any, name: str) -> list[str] | None:
    """A list of names (languages, measures, variants) from ``value``: None stays None, a bare
    string is that one name (``targets="fr"`` means ``["fr"]``, not ``["f", "r"]``), any other
    iterable must hold strings only (a ConfigError naming ``name`` otherwise)."""
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, bytes) or not isinstance(value, Iterable):
        raise ConfigError(f"{name}: expected a list of names, got {type(value).__name__} "
                          f"{value!r}")
    out = list(value)
    for v in out:
        if not isinstance(v, str):
            raise ConfigError(f"{name}: expected names (strings), got {v!r}")
    return out


def as_layers(value: Any, name: str = "layers") -> list[int] | None:
    """Layer numbers from ``value``: None stays None, a bare integer is that one layer, any
    other sequence must hold integers only (a ConfigError naming ``name`` otherwise; the range
    is the caller's check)."""
    if value is None:
        return None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_):
        return [int(value)]
    if isinstance(value, str | bytes) or not isinstance(value, Sequence | range):
        raise ConfigError(f"{name}: expected a list of layer numbers, got {value!r}")
    return [check_count(f"{name}: layer", v) for v in value]


# --- languages and layers ----------------------------------------------------------------------


def check_languages(corpus: ParallelCorpus, languages: Sequence[str]) -> None:
    """Raise a one-line ConfigError for a language the corpus does not hold."""
    for lang in languages:
        if lang not in corpus.texts:
            raise ConfigError(f"unknown language {lang!r} (available: "
                              f"{', '.join(corpus.languages)})")


def check_layers(layers: Sequence[int] | int | None, num_states: int) -> list[int]:
    """Validated layer indices (0 = embeddings .. num_states - 1); all when None; a bare
    integer is one layer."""
    layers = as_layers(layers)
    if layers is None:
        return list(range(num_states))
    for layer in layers:
        if not 0 <= layer < num_states:
            raise ConfigError(f"layer {layer} out of range 0..{num_states - 1} (0 = embeddings)")
    return sorted(set(layers))


# --- memory ------------------------------------------------------------------------------------


def available_memory() -> int | None:
    """Bytes of memory available to this process now (``MemAvailable`` of /proc/meminfo, else
    the physical memory from ``sysconf``); None when neither can be read."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, OSError, ValueError):
        return None


def _size(n_bytes: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if unit == "B" and n_bytes < 1024:
            return f"{int(n_bytes)} B"
        if n_bytes < 1024 or unit == "PB":
            return f"{n_bytes:.3g} {unit}"
        n_bytes /= 1024
    return f"{n_bytes:.3g} PB"  # unreachable


def check_memory(needed: float, what: str, limit: int | None = None) -> None:
    """A one-line ConfigError when ``needed`` bytes (an up-front estimate of ``what``, e.g.
    ``"n_boot = 1000000000: the bootstrap of 1000 sentences"``) exceed ``limit`` (default: the
    available memory, `available_memory`; no check when it cannot be read)."""
    limit = available_memory() if limit is None else limit
    if limit is not None and needed > limit:
        raise ConfigError(f"{what} would take about {_size(needed)} of memory (estimate), "
                          f"more than the {_size(limit)} available")


# --- model positions ---------------------------------------------------------------------------


DEFAULT_MAX_LENGTH = 512
"""Sub-words kept per sentence when no ``max_length`` is given (fewer for a model with fewer
positions)."""


def check_max_length(model: Any, max_length: Any, name: str = "model") -> int:
    """The sub-words kept per sentence for ``model`` (a torch model with a ``config``): None
    gives the model's position limit (`crossling.models.config.usable_positions`), at most
    `DEFAULT_MAX_LENGTH`; a given value must be an integer >= 3 (two specials and a word)
    within that limit (the rule fine-tuning applies), else a one-line ConfigError, before any
    extraction."""
    limit = usable_positions(getattr(model, "config", None))
    if max_length is None:
        return DEFAULT_MAX_LENGTH if limit is None else min(DEFAULT_MAX_LENGTH, limit)
    length = check_count("max_length", max_length, 3)
    if limit is not None and length > limit:
        raise ConfigError(f"max_length {length} exceeds the {limit} positions of {name}")
    return length
