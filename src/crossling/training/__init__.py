"""Fine-tuning task heads on a source language and evaluating them zero-shot."""
