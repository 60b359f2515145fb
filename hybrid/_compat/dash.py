"""Dash internals hybrid reads or changes where Dash has no public way. Checked against Dash 4.4.1.

* the app's config: Dash fixes `requests_pathname_prefix` at construction, and keeps aliases of its
  config object (`dash._get_paths.CONFIG`, `dash._pages.CONFIG`); to make the prefix follow each
  request's mount path, the config's class is swapped for a subclass of `dash._utils.AttributeDict`;
* the resources of a page: `Dash._collect_and_register_resources` is wrapped to leave out the scripts of
  libraries a page does not use (`hybrid._dash.serving.libraries`);
* whether Dash has set itself up (`Dash._got_first_request["setup_server"]`, which registers its files
  on the first request) and which `before_request` hooks are Dash's own (`Dash._setup_server`), so files
  are answered natively only where Flask would answer them the same way.

`tests/compat/test_dash.py` fails, naming this module, when a Dash release moves one of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dash import Dash
from dash._utils import AttributeDict

CHECKED = ("4.4.1",)

__all__ = ["CHECKED", "AttributeDict", "app_hooks", "filter_resources", "is_set_up", "swap_config_class"]


def swap_config_class(dash_app: Dash, config_class: type[AttributeDict]) -> None:
    """Make `dash_app.config` an instance of `config_class` (a subclass of Dash's config class), in place:
    the aliases Dash keeps of it see the change. (Dash's own `__setattr__` would store `__class__` as a
    config key, hence `object.__setattr__`.)"""
    object.__setattr__(dash_app.config, "__class__", config_class)


def filter_resources(dash_app: Dash, keep: Callable[[dict[str, Any]], bool]) -> None:
    """Leave every script and stylesheet `keep` refuses off `dash_app`'s pages, and unregistered."""
    collect = dash_app._collect_and_register_resources

    def collect_kept(resources: list[dict[str, Any]], *args: Any, **kwargs: Any) -> list[Any]:
        return collect([resource for resource in resources if keep(resource)], *args, **kwargs)

    dash_app._collect_and_register_resources = collect_kept  # type: ignore[method-assign]


def is_set_up(dash_app: Dash) -> bool:
    """Whether Dash has set itself up (done on its first request: its files are registered then)."""
    return bool(dash_app._got_first_request.get("setup_server", False))


def app_hooks(dash_app: Dash) -> list[Callable[..., Any]]:
    """The Flask `before_request` hooks of the app's own, Dash's set-up excepted."""
    setup = dash_app._setup_server
    server = dash_app.server
    return [hook for hooks in server.before_request_funcs.values() for hook in hooks if hook != setup]
