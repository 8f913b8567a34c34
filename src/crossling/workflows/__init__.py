"""End-to-end workflows: resolve files, load the model, run one analysis, return its rows."""
