"""Shared state, in the stores the settings name.

`redis/`: the Redis of `HYBRID_REDIS_URL`, shared by every worker and host: the answer log (resumable
answers on Redis Streams), once-only ticket nonces, cluster-wide client limits.
"""
