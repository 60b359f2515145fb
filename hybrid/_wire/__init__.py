"""The wire: what an answer is made of (`parts`) and how it travels to the browser (`sse`).

The bottom floor of the stream side: it imports nothing of hybrid's but its errors.
"""
