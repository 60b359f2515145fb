"""The Redis of `HYBRID_REDIS_URL` (`SharedState`, `shared.py`) and the stores hybrid keeps there:
`answer_log.py`, `nonces.py`, `limits.py`; `connection.py` connects and checks it answers at start.

The Redis client is an extra (`pip install 'dash-hybrid[redis]'`); this package is imported only when
`HYBRID_REDIS_URL` is set, and says what to install when the client is missing.
"""

try:
    import redis  # noqa: F401  (its absence is what this checks)
except ImportError:
    from hybrid._errors import ConfigurationError

    raise ConfigurationError(
        "HYBRID_REDIS_URL is set, but the Redis client is not installed: "
        "pip install 'dash-hybrid[redis]' (or unset HYBRID_REDIS_URL to keep state per process)",
        type="redis_missing",
    ) from None
