"""Loading encoders, task heads, RANDOM-INIT and the offline multilingual-e5-small import."""
