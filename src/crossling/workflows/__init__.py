"""End-to-end workflows: data folder and model names in, tidy rows out (CLI, studies, API)."""
