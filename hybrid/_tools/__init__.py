"""Tools: the app's Python functions the model may call.

`tool.py` describes a function by its signature and runs a call; `context.py` is what a tool may ask for
besides its arguments; `toolbox.py` holds a chat's tools; `loop.py` is the tool loop; `threads.py` the
bounded threads synchronous code runs on.
"""
