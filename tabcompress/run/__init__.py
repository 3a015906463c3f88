"""A distillation run, stage by stage (:mod:`.distill`); batch scoring with a saved student (:mod:`.predict`)."""
