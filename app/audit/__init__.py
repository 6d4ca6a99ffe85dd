"""The append-only audit log, each entry chained by hash to the previous one."""
