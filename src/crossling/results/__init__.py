"""Result rows: one typed row per kind of result (`rows`), their files (`io`), and the
upgrade of rows written by older versions (`compat`). Rows are tidy, one value per row, each
carrying the provenance that traces it."""

from crossling.results.counts import SentenceCounts, pack_values, unpack_values
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
from crossling.results.sentences import (
    SENTENCE_FILE,
    read_sentence_counts,
    with_sentence_counts,
    write_sentence_counts,
)

__all__ = ["PROBE_TASK", "SCORE_RECORD", "SENTENCE_FILE", "SIDECAR", "SIMILARITY_CLASSES",
           "SIMILARITY_RECORD", "CrossLingualRow", "LayerDifferenceRow", "ModelModelRow",
           "ProbeRow", "RetrievalRow", "Row", "ScoreRow", "SeedSeedRow", "SentenceCounts",
           "SimilarityRow", "WeightChangeRow", "pack_values", "read_rows_csv", "read_rows_json",
           "read_sentence_counts", "row_from_record", "run_id", "sidecar_path", "unpack_values",
           "with_sentence_counts", "write_rows_csv", "write_rows_json", "write_sentence_counts"]
