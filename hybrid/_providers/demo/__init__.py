"""The embedded demo model: markdown answers at a realistic cadence, and deterministic tool calls."""
