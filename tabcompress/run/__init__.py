"""A distillation run, stage by stage (:mod:`.distill`)."""
