"""The version of hybrid (the distribution `dash-hybrid`): `pyproject.toml` and `hybrid.__version__`."""

__version__ = "0.2.0"
