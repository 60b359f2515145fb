"""The stream core: a source of events streamed to its client as SSE, and everything that bounds it.

`endpoint.py` (`stream_endpoint`) admits a request (`admission.py`: the host's say, the server's and the
client's places from `supervisor.py` and `limits.py`), reads its body and hands the source to
`response.py` (`EventStreamResponse`), or to a `Delivery` the app plugs in (`delivery.py`; resumable
answers are one). `hooks.py` is what streams report; `signals.py` drains every supervisor on SIGTERM;
`endings.py` is how a source ends. It imports nothing of Dash, of a provider, or of the rooms above it.
"""
