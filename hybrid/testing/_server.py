"""`HybridRunner`: an app served by hybrid's server for tests, as dash's `ThreadedRunner` serves one with
Flask alone (which cannot stream: a Chat there says so instead of answering).

The app runs under uvicorn on a thread of the test process, so a test may look at the app's objects
while it serves. The socket is bound before the server starts, on a port the system picks: no port is
guessed, and two runners never race for one.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Mapping
from typing import Any

import uvicorn
from dash import Dash
from dash.testing import wait
from dash.testing.application_runners import BaseDashRunner
from dash.testing.errors import DashAppLoadingError, TestingTimeoutError

from hybrid._app import HybridApp, create_app
from hybrid._dash.chat.component import SERVED


class HybridRunner(BaseDashRunner):  # type: ignore[misc]
    """Serves one app with hybrid's server (uvicorn, on a thread) on a loopback port; `url` is its address.

    `start(app)` (or calling the runner) takes a Dash app, whose server `hybrid.create_app(app, **options)`
    builds, or the `hybrid.HybridApp` that `create_app` returned. Leaving the `with` block stops it.
    """

    def __init__(self, keep_open: bool = False, stop_timeout: float = 10) -> None:
        super().__init__(keep_open=keep_open, stop_timeout=stop_timeout, host="127.0.0.1")
        self.app: HybridApp | None = None
        """The app being served."""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self, app: Dash | HybridApp, start_timeout: float = 10, **options: Any) -> None:
        """Serve `app` and wait until it listens; `DashAppLoadingError` if it does not start."""
        if self.started:
            raise RuntimeError("this runner serves one app already: start one server per test")
        self.app = hybrid_app(app, options)
        listener = socket.socket()
        listener.bind((self.host, 0))
        self.port = listener.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_config=None,  # the test's logging: pytest shows the server's records with a failure
            access_log=False,
            timeout_graceful_shutdown=self.stop_timeout / 2,  # a stream a test left open ends the wait
        )
        self._server = server = uvicorn.Server(config)
        self._thread = thread = threading.Thread(
            target=server.run, kwargs={"sockets": [listener]}, name="hybrid-test-server", daemon=True
        )
        thread.start()
        with contextlib.suppress(TestingTimeoutError):
            wait.until(lambda: server.started or not thread.is_alive(), start_timeout)
        if not server.started:
            server.should_exit = True
            listener.close()
            raise DashAppLoadingError(
                f"hybrid's server did not start within {start_timeout} s: its log records say why"
            )
        self.started = True

    def stop(self) -> None:
        """Ask the server to finish, and wait up to `stop_timeout` for it (`TestingTimeoutError` past it)."""
        assert self._server is not None and self._thread is not None
        self._server.should_exit = True
        wait.until_not(self._thread.is_alive, self.stop_timeout)
        self.started = False


def hybrid_app(app: Any, options: Mapping[str, Any]) -> HybridApp:
    """The app to serve for `app`: a Dash app's, built with `create_app(app, **options)`, or `app` itself
    when `create_app` built it already."""
    if isinstance(app, HybridApp):
        if options:
            raise TypeError(
                f"start_server() got {', '.join(sorted(options))} for an app create_app built already: "
                "give them to create_app, or pass the Dash app instead"
            )
        return app
    if isinstance(app, Dash):
        if app.server.extensions.get(SERVED):
            raise ValueError(
                "hybrid.create_app served this Dash app already (e.g. `server = hybrid.create_app(app)` in "
                "its module): pass that server to start_server, or build the app anew in the test with "
                "dash.testing.application_runners.import_app('module', 'server')"
            )
        return create_app(app, **options)
    raise TypeError(
        f"start_server() serves a Dash app, or the app hybrid.create_app returned, not {type(app).__name__}"
    )
