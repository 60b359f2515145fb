"""The ASGI app configured from the environment: `uvicorn hybrid.main:app`."""

from hybrid import logs
from hybrid.app import create_app
from hybrid.settings import Settings

settings = Settings.from_env()
logs.configure(settings)  # HYBRID_LOG_FORMAT and HYBRID_LOG_LEVEL, also under a plain `uvicorn`
app = create_app(settings=settings)
