"""The pytest plugin hybrid registers (entry point `pytest11`)."""
