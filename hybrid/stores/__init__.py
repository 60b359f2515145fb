"""The shared state of workers and hosts, in the Redis of `HYBRID_REDIS_URL` (`SharedState`).

`answer_log` (resumable answers on Redis Streams), `nonces` (once-only tickets), `limits` (client limits
across the cluster), `redis` (connections, and the check at start that Redis answers).
"""
