"""The Redis of `HYBRID_REDIS_URL` (`SharedState`, `shared.py`) and the stores hybrid keeps there:
`answer_log.py`, `nonces.py`, `limits.py`; `connection.py` connects and checks it answers at start."""
