"""Day-2 operations on deployed nodes: targets, shells, logs, job control, recreate, pre-flight."""
