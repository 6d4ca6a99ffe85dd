"""Item analysis of questionnaires (facility, discrimination, reliability, charts). Pure."""
