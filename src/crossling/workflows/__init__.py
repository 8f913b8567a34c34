"""Whole workflows as one call each: files resolved, models loaded, rows returned."""
