//! Self-hosted back end: install directory, processes, instances, logs. Never prints.
