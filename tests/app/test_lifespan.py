"""What `create_app`'s lifespan closes at shutdown: what it opened, never what its caller passed in."""

from __future__ import annotations

import pytest

import hybrid
from hybrid._providers.demo.model import DemoProvider
from tests.conftest import run_async


class Closing(DemoProvider):
    def __init__(self) -> None:
        super().__init__(ttft=0, token_delay=0)
        self.closed = 0

    async def aclose(self) -> None:
        self.closed += 1


async def live_and_stop(app: hybrid.HybridApp) -> None:
    async with app.router.lifespan_context(app):
        pass


def test_a_provider_the_caller_passed_in_is_left_open_for_the_caller() -> None:
    """Before: the lifespan closed it, and a host sharing it with other code lost its connections."""
    provider = Closing()
    app = hybrid.create_app(provider=provider, settings=hybrid.Settings(secret_key="k"))
    run_async(live_and_stop(app))
    assert provider.closed == 0


def test_a_provider_the_app_made_from_its_settings_is_closed_at_shutdown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = Closing()
    monkeypatch.setattr("hybrid._app.provider_from_settings", lambda settings: made)
    app = hybrid.create_app(settings=hybrid.Settings(secret_key="k"))
    run_async(live_and_stop(app))
    assert made.closed == 1
