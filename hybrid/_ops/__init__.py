"""Running hybrid: the command line (`cli.py`, `python -m hybrid`), the process's settings
(`process.py`), logs, Prometheus metrics, readiness, and the warning for an exposed paid server."""
