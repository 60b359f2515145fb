"""The ASGI app configured from the environment: `uvicorn hybrid.main:app`."""

from hybrid.app import create_app
from hybrid.settings import Settings

app = create_app(settings=Settings.from_env())
