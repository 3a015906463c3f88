"""Evaluation: fidelity, accuracy, size and latency (:mod:`.metrics`), the TSC score (:mod:`.tsc`), how real
synthetic rows look (:mod:`.realism`), and a saved student checked against its teacher on a CSV file
(:mod:`.check`)."""

from tabcompress.evaluation.metrics import against_target, align_target, evaluate, fidelity, latency, serialized_bytes

__all__ = ["against_target", "align_target", "evaluate", "fidelity", "latency", "serialized_bytes"]
