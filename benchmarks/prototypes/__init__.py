"""Prototypes of proposed hybrid core changes, measured by the suite (not used by hybrid itself)."""
