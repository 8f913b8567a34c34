"""Options that several commands share, declared once so their names, defaults and help agree."""

from __future__ import annotations

from typing import Any

from crossling.core.precision import DEFAULT_PRECISION
from crossling.similarity.extract import BATCH_TOKENS


def add_forward_options(p: Any) -> None:
    """``--device`` and ``--batch-tokens``: where and in what batches the frozen encoder runs
    (similarity, retrieval, probing)."""
    p.add_argument("--device", default=None, help="torch device (default: cuda if available)")
    p.add_argument("--batch-tokens", type=int, default=BATCH_TOKENS,
                   help="token budget per forward pass")
    add_precision_option(p)


def add_precision_option(p: Any, default: str | None = DEFAULT_PRECISION,
                         default_text: str = DEFAULT_PRECISION) -> None:
    """``--precision`` (alias ``--dtype``): one setting, two spellings (fp32 or float32, ...);
    the settings object checks the value (docs/precision.md)."""
    p.add_argument("--precision", "--dtype", dest="precision", default=default,
                   metavar="{fp32,bf16,fp16,auto}",
                   help="precision of the forward passes (or float32, bfloat16, float16); "
                        "auto: bf16 where the GPU or CPU computes it natively, else fp32 "
                        f"(default: {default_text})")
