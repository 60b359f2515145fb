"""`load_only`: put on a Dash app's pages the scripts of the component libraries it uses, and no others.

Dash puts the scripts of every component library that was imported on each page, and of dcc, html and
dash_table always (`Dash._generate_scripts_html`), whether the page uses them or not: the chat page
loaded dash_table's 34 KB without a table on it. Which libraries a page needs cannot be read off the
app safely in general (a callback, `set_props` or a clientside function may add any component later,
and a component whose library is missing breaks the page), so this is for apps that know what they
use: the built-in chat page says so. Other apps keep Dash's rule unless they call it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dash import Dash
from dash.development.base_component import Component, ComponentRegistry

from hybrid._compat.dash import filter_resources

BUNDLED = {"dcc": "dash_core_components", "html": "dash_html_components", "dash_table": "dash_table"}
"""Dash's own libraries: their scripts are under namespace `dash` in a folder of this name."""


def library_of(resource: dict[str, Any]) -> str | None:
    """The component library a script or stylesheet belongs to (its components' `_namespace`), or None
    for what is not a component library's: the renderer and React, the app's assets, external URLs, and
    scripts the app or a package added to the page itself (`app.scripts.append_script`, as `hybrid.Chat`
    does), whose namespace has no components."""
    namespace = resource.get("namespace")
    if namespace == "dash":
        paths = resource.get("relative_package_path", "")
        first = paths if isinstance(paths, str) else (paths[0] if paths else "")
        return BUNDLED.get(first.replace("dash.", "").split("/", 1)[0])
    return namespace if namespace in ComponentRegistry.registry else None


def libraries_in(component: Component) -> set[str]:
    """The libraries of `component` and everything inside it."""
    found = {component._namespace}
    for child in component._traverse():
        if isinstance(child, Component):
            found.add(child._namespace)
    return found


def load_only(dash_app: Dash, libraries: Iterable[str]) -> None:
    """Leave out of `dash_app`'s pages the scripts and styles of every library not in `libraries`
    (names as components' `_namespace`: `dash_html_components`, `dash_core_components`, ...).

    Their files are no longer registered either, so Dash (and `DashFiles`) answer 404 for them.
    """
    keep = frozenset(libraries)
    filter_resources(dash_app, lambda resource: (library := library_of(resource)) is None or library in keep)
