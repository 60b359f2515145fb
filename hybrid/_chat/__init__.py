"""The chat stream, `POST /api/stream`: signed tickets in, a Chat's answer out.

`stream.py` (`ChatStream`) verifies a ticket (`tickets.py`) and makes the answer's `Turn` (`turn.py`),
whose model calls go through `models.py` with a request checked by `request.py`; `completion.py` is how
an answer's end is told.
"""
