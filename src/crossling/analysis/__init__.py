"""Turning result rows into answers: RANDOM-INIT deltas, similarity-transfer correlations."""
