"""Evaluation: fidelity, accuracy, size and latency (:mod:`.metrics`), and the TSC score (:mod:`.tsc`)."""

from tabcompress.evaluation.metrics import against_target, align_target, evaluate, fidelity, latency, serialized_bytes

__all__ = ["against_target", "align_target", "evaluate", "fidelity", "latency", "serialized_bytes"]
