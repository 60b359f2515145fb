"""Testing an app that uses hybrid: a pytest plugin (registered by entry point) and in-process helpers."""
