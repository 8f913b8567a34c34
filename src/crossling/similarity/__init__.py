"""Per-layer sentence representations and similarity measures (CKA family) between them."""
