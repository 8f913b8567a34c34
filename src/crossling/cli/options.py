"""Options that several commands share, declared once so their names, defaults and help agree."""

from __future__ import annotations

from typing import Any

from crossling.similarity.extract import BATCH_TOKENS


def add_forward_options(p: Any) -> None:
    """``--device`` and ``--batch-tokens``: where and in what batches the frozen encoder runs
    (similarity, retrieval, probing)."""
    p.add_argument("--device", default=None, help="torch device (default: cuda if available)")
    p.add_argument("--batch-tokens", type=int, default=BATCH_TOKENS,
                   help="token budget per forward pass")
