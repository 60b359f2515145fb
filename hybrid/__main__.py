"""`python -m hybrid`: serve the chat with uvicorn, configured from the environment and options."""

from hybrid._ops.cli import main

main()
