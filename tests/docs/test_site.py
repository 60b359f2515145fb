"""The documentation site as a whole: every example on it is run by a test, the API reference covers the
public surface, and the built site (MkDocs, `--strict`) searches with no network, opened from disk.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Route, expect

import hybrid
from tests.conftest import ROOT
from tests.docs.examples import RUN_BY, blocks, example, pages


def test_every_python_block_names_its_file_and_a_test_runs_it() -> None:
    shown = set()
    for page in pages():
        for name, code in blocks(page):
            where = f"{page.relative_to(ROOT)}: the block starting {code[:60]!r}"
            assert name, f"{where} should name its file on its first line (`# myapp.py`)"
            shown.add((page.name, name))
    assert shown == set(RUN_BY), "tests/docs/examples.py's RUN_BY should list exactly the pages' examples"
    for (page, name), runner in RUN_BY.items():
        source = (ROOT / runner).read_text()
        assert page in source and name in source, f"{runner} does not run {name} of {page}"


def test_each_example_is_shown_once_on_its_page() -> None:
    for page, name in RUN_BY:
        assert example(page, name)


def anchors(page: Path) -> set[str]:
    """The anchors of a page's headings, as GitHub and the site's table of contents make them."""
    headings = re.findall(r"^#+ (.+)$", re.sub(r"```.*?```", "", page.read_text(), flags=re.S), re.M)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def test_the_readmes_links_lead_to_pages_and_headings_that_exist() -> None:
    # The site's own links are checked by its --strict build; the README is read on GitHub.
    readme = (ROOT / "README.md").read_text()
    for target in re.findall(r"\]\(([^)#:]+)(?:#([^)]+))?\)", readme):
        path, anchor = ROOT / target[0], target[1]
        assert path.exists(), f"README.md links to {target[0]}, which does not exist"
        assert not anchor or anchor in anchors(path), (
            f"README.md links to {target[0]}#{anchor}: no such heading"
        )


def test_the_api_reference_documents_exactly_the_public_names() -> None:
    reference = (ROOT / "docs" / "reference.md").read_text()
    documented = re.findall(r"^::: hybrid\.(\w+)$", reference, re.M)
    assert len(documented) == len(set(documented)), "a name is documented twice"
    assert set(documented) == set(hybrid.__all__) - {"__version__"}
    assert "`hybrid.__version__`" in reference


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The site as `make docs` builds it (`--strict`: a broken link, anchor or reference fails)."""
    folder = tmp_path_factory.mktemp("site")
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(folder)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr
    yield folder


def test_the_site_opened_from_disk_searches_with_no_network(site: Path, browser: Browser) -> None:
    context = browser.new_context()
    asked: list[str] = []

    def only_files(route: Route) -> None:
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            asked.append(route.request.url)
            route.abort()

    context.route("**/*", only_files)
    try:
        page = context.new_page()
        page.goto((site / "index.html").as_uri())
        page.locator("input.md-search__input").click()
        # "Initializing search" until the index is loaded (in the web worker the shim stands in for).
        expect(page.locator(".md-search-result__meta")).to_have_text("Type to start searching")
        # Typed key by key, as a reader types: the search listens to keys, not to a filled-in value.
        page.locator("input.md-search__input").press_sequentially("HYBRID_REDIS_URL")
        results = page.locator(".md-search-result__item a")
        expect(results.first).to_be_visible(timeout=10_000)
        targets = results.evaluate_all("links => links.map(a => a.getAttribute('href'))")
        assert any("configuration.html" in target for target in targets), targets
        assert asked == [], f"the site asked the network for {asked}"
    finally:
        context.close()


@pytest.mark.server  # the build is a process of its own
def test_the_benchmark_report_is_a_page_of_the_site_with_its_figures(site: Path) -> None:
    report = (site / "benchmarks" / "index.html").read_text()
    assert "why not just Flask?" in report
    for figure in re.findall(
        r"\]\((results/[\w.-]+\.png)\)", (ROOT / "benchmarks" / "README.md").read_text()
    ):
        assert f'src="{figure}"' in report
        assert (site / "benchmarks" / figure).is_file()
