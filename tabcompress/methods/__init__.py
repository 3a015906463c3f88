"""The methods a run can use beyond plain generation: teacher-aware selection, time-budget planning,
few-shot synthesis around prototypes, and condensing a table into prototypes."""
