"""The memory a frozen pass needs, estimated from shapes before it starts.

Three parts (docs/large-models.md): the weights (parameters x bytes), the pooled vectors that
are kept (sets x rows x layers kept x hidden x bytes: float32 sentence vectors, float16 word
vectors; on the CPU), and one batch's hidden states (batch tokens x hidden x states alive x
bytes, on the device; a rough lower bound: a block's own temporaries come on top). A 7B model
needs `--layers` or bf16 weights to fit where float32 everything does not; the estimate says
so before minutes of loading and encoding are spent.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from crossling.similarity.checks import available_memory

log = logging.getLogger(__name__)

_BYTES = {"fp32": 4, "float32": 4, "bf16": 2, "bfloat16": 2, "fp16": 2, "float16": 2}


def bytes_per_element(dtype: torch.dtype | str) -> int:
    """Bytes of one value of ``dtype``: a torch dtype, or ``fp32``/``float32`` (4),
    ``bf16``/``bfloat16``/``fp16``/``float16`` (2), with or without a ``torch.`` prefix."""
    if isinstance(dtype, torch.dtype):
        return int(dtype.itemsize)
    name = str(dtype).removeprefix("torch.").lower()
    if name not in _BYTES:
        raise ValueError(f"dtype {dtype!r}: expected one of {', '.join(sorted(_BYTES))} or a "
                         "torch dtype")
    return _BYTES[name]


def dtype_label(dtype: torch.dtype | str) -> str:
    """The short name of a dtype in the memory line: ``fp32``, ``bf16``, ``fp16``."""
    name = str(dtype).removeprefix("torch.").lower()
    return {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}.get(name, name)


def size(n_bytes: float) -> str:
    """Decimal units (1 GB = 1e9 bytes), three significant digits at most."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.3g} {unit}"
    return f"{int(n_bytes)} B"


@dataclass(frozen=True)
class MemoryEstimate:
    """The shapes of a frozen pass and the bytes they take (`weights`, `vectors`,
    `activations`); `line` is the one line printed before extraction."""

    params: int
    weight_dtype: str
    sets: int
    rows: int
    unit: str
    layers: int
    hidden: int
    vector_bytes: int
    batch_tokens: int
    states_alive: int

    @property
    def weights(self) -> int:
        return self.params * bytes_per_element(self.weight_dtype)

    @property
    def vectors(self) -> int:
        return self.sets * self.rows * self.layers * self.hidden * self.vector_bytes

    @property
    def activations(self) -> int:
        """The hidden states of one batch, in the weights' dtype (the residual stream's)."""
        return (self.batch_tokens * self.hidden * self.states_alive
                * bytes_per_element(self.weight_dtype))

    def line(self) -> str:
        act = bytes_per_element(self.weight_dtype)
        return (f"memory: weights {size(self.weights)} ({dtype_label(self.weight_dtype)}) + "
                f"vectors {size(self.vectors)} ({self.sets} x {self.rows} {self.unit} x "
                f"{self.layers} layers x {self.hidden} x {self.vector_bytes} B) + activations "
                f"~{size(self.activations)} (batch {self.batch_tokens} tokens x "
                f"{self.states_alive} states x {self.hidden} x {act} B)")


def hidden_size(model: Any) -> int:
    """The width of a model's hidden states (``config.hidden_size``: transformers maps each
    family's own name, ``d_model``, ``n_embd``, ... to it)."""
    return int(model.config.hidden_size)


def estimate_for(model: Any, num_states: int, vectors: tuple[int, int, str, int],
                 layers: Sequence[int] | None, batch_tokens: int,
                 weight_dtype: str | None = None) -> MemoryEstimate:
    """The estimate for a loaded ``model`` with ``num_states`` hidden states (blocks + 1),
    keeping ``vectors`` = (sets, rows, unit, bytes per value) at ``layers`` (None: all);
    blocks above the highest do not run (`crossling.models.states.hidden_states`), so fewer
    states are alive. ``weight_dtype``: the precision the pass will cast the weights to
    (None: as loaded)."""
    sets, rows, unit, vector_bytes = vectors
    params = list(model.parameters())
    top = num_states - 1 if not layers else max(layers)
    alive = num_states if top >= num_states - 1 else max(top, 1) + 1
    return MemoryEstimate(
        params=sum(p.numel() for p in params), weight_dtype=weight_dtype or str(params[0].dtype),
        sets=sets, rows=rows, unit=unit,
        layers=num_states if layers is None else len(set(layers)), hidden=hidden_size(model),
        vector_bytes=vector_bytes, batch_tokens=batch_tokens, states_alive=alive)


HINT = ("keep fewer layers (--layers), load the weights in bf16 (--precision bf16) or use "
        "fewer sentences (--n) or a smaller --batch-tokens")


def free_memory(device: torch.device) -> int | None:
    """Bytes free on ``device`` now: CUDA's free memory, else the host's available RAM."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    return available_memory()


def memory_problem(est: MemoryEstimate, device: torch.device, host_free: int | None,
                   device_free: int | None) -> str | None:
    """Why ``est`` may not fit, or None. The weights are loaded already (counted as used);
    the vectors live in host memory, the activations on ``device`` (the host's when CPU)."""
    needs = [("vectors", est.vectors, host_free)]
    if device.type == "cpu":
        needs = [("vectors and activations", est.vectors + est.activations, host_free)]
    else:
        needs.append((f"activations on {device}", est.activations, device_free))
    for what, need, free in needs:
        if free is not None and need > free:
            return (f"memory: the {what} (~{size(need)}) exceed the {size(free)} free; "
                    f"{HINT}")
    return None


def report_memory(est: MemoryEstimate, device: torch.device) -> MemoryEstimate:
    """Log ``est.line()``, and a warning naming what may not fit (`memory_problem`)."""
    log.info("%s", est.line())
    host = available_memory()
    problem = memory_problem(est, device, host,
                             free_memory(device) if device.type == "cuda" else host)
    if problem is not None:
        log.warning("%s", problem)
    return est
