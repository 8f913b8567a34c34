"""The ground floor: errors, atomic files, provenance, checks and statistics every layer shares."""
