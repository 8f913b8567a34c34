"""Per-layer sentence vectors and the similarity between them: measures, their uncertainty,
the settings and the pipeline of the paper's analyses."""
