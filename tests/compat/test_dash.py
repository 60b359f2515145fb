"""What `hybrid._compat.dash` reads inside Dash is where it was (checked against Dash 4.4.1): when a Dash
release moves it, these fail and name the module to mend."""

from __future__ import annotations

import dash
from dash import Dash, html

from hybrid._compat import dash as compat

MEND = f"Dash {dash.__version__} moved what hybrid._compat.dash reads (checked: {', '.join(compat.CHECKED)})"


def test_the_config_class_swap_keeps_dashs_aliases_of_the_config() -> None:
    app = Dash(__name__)

    class Prefixed(compat.AttributeDict):
        def __getitem__(self, key: object) -> object:
            value = super().__getitem__(key)
            return "/mounted" + value if key == "requests_pathname_prefix" else value

    compat.swap_config_class(app, Prefixed)
    from dash import _get_paths

    assert isinstance(app.config, compat.AttributeDict), MEND
    assert app.config["requests_pathname_prefix"] == "/mounted/", MEND
    assert _get_paths.CONFIG is app.config, f"{MEND}: dash._get_paths.CONFIG no longer aliases app.config"


def test_filtered_resources_leave_the_page_and_their_files() -> None:
    app = Dash(__name__)
    app.layout = html.Div("x")
    compat.filter_resources(
        app, lambda resource: "dash_table" not in str(resource.get("relative_package_path"))
    )
    client = app.server.test_client()
    page = client.get("/").get_data(as_text=True)
    scripts = [line for line in page.splitlines() if "<script src=" in line]
    assert not any("dash_table" in line for line in scripts), (
        f"{MEND}: Dash._collect_and_register_resources is no longer called"
    )
    assert any("dash_html_components" in line for line in scripts), MEND


def test_set_up_and_the_apps_own_hooks_are_told_apart() -> None:
    app = Dash(__name__)
    app.layout = html.Div("x")
    assert not compat.is_set_up(app), MEND
    assert compat.app_hooks(app) == [], f"{MEND}: Dash._setup_server is not the hook Dash registers"
    app.server.test_client().get("/")
    assert compat.is_set_up(app), f"{MEND}: Dash._got_first_request['setup_server'] is not set on a request"

    guarded = Dash(__name__)

    @guarded.server.before_request
    def authenticate() -> None:
        return None

    assert compat.app_hooks(guarded) == [authenticate], MEND
