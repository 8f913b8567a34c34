"""Parallel sentence retrieval per layer: can a sentence's translation actually be found?

Its own package above ``similarity`` (whose cached vectors and checks it reuses) and below
``analysis``: ids and settings, scoring, resampling and rows, one concern per module.
"""
