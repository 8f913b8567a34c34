"""Result rows: one typed row per kind of result (`rows`), their files (`io`), and the
upgrade of rows written by older versions (`compat`). Rows are tidy, one value per row, each
carrying the provenance that traces it."""

from crossling.results.io import (
    SIDECAR,
    read_rows_csv,
    read_rows_json,
    row_from_record,
    run_id,
    sidecar_path,
    write_rows_csv,
    write_rows_json,
)
from crossling.results.rows import (
    PROBE_TASK,
    SCORE_RECORD,
    SIMILARITY_CLASSES,
    SIMILARITY_RECORD,
    CrossLingualRow,
    LayerDifferenceRow,
    ModelModelRow,
    ProbeRow,
    RetrievalRow,
    Row,
    ScoreRow,
    SeedSeedRow,
    SimilarityRow,
    WeightChangeRow,
)

__all__ = ["PROBE_TASK", "SCORE_RECORD", "SIDECAR", "SIMILARITY_CLASSES", "SIMILARITY_RECORD",
           "CrossLingualRow", "LayerDifferenceRow", "ModelModelRow", "ProbeRow", "RetrievalRow",
           "Row", "ScoreRow", "SeedSeedRow", "SimilarityRow", "WeightChangeRow",
           "read_rows_csv", "read_rows_json", "row_from_record", "run_id", "sidecar_path",
           "write_rows_csv", "write_rows_json"]
