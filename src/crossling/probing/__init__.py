"""Layer-wise linear probes of a frozen encoder: word vectors, probe fitting, scored rows."""
