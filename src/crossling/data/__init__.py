"""Reading treebanks, NER files and parallel corpora into typed, validated records."""
