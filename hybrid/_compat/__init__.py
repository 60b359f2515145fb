"""What hybrid reads or changes inside other projects where they offer no public way: one module each.

Each module names the versions it was checked against; `pyproject.toml` pins those projects to a range,
and `tests/compat/` fails with a message naming the module to mend when an upgrade moves what it reads.
Nothing outside this package reaches into another project's private names.
"""
