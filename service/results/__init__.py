"""Results over HTTP: the paper-style tables, figures and the report page of an experiment."""
