"""OpenAI, Azure OpenAI and OpenAI-compatible servers through the `openai` SDK.

`provider.py` asks and retries; `upstream.py` is the HTTP under it; `chunks.py` decodes the answer's
bytes; `failures.py` says what an upstream failure means for the user; `watchdog.py` bounds each wait.
"""
