"""Tools for developing with hybrid, never imported by the server: the OpenAI-compatible simulator
(`python -m hybrid.dev.simulator`), and helpers that start servers and browsers for tests."""
