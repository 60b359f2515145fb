"""MkDocs hook: the benchmark report, `benchmarks/README.md`, is a page of the site.

The report lives beside the benchmarks, outside `docs/`, so that it reads on GitHub next to the code and
the results it describes. The site takes it in at build time, with the figures it shows
(`benchmarks/results/*.png`), at the same relative place: `benchmarks/README.md` in the site, its
figures under `benchmarks/results/`. Links keep working in both places:

- in the docs, a link to `../benchmarks/...` (right on GitHub, from `docs/`) becomes `benchmarks/...`;
- in the report, a link to `../docs/...` (right on GitHub, from `benchmarks/`) becomes `../...`.

`--strict` then checks every one of them like any other link of the site.
"""

from __future__ import annotations

import re
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

ROOT = Path(__file__).resolve().parents[2]
REPORT = "benchmarks/README.md"
FIGURE = re.compile(r"\]\((results/[\w.-]+\.png)\)")


def report_markdown() -> str:
    """The report as the site shows it: links into `docs/` made relative to the site's root."""
    return (ROOT / REPORT).read_text(encoding="utf-8").replace("](../docs/", "](../")


def on_files(files: Files, config: MkDocsConfig) -> Files:
    text = report_markdown()
    files.append(File.generated(config, REPORT, content=text))
    for figure in sorted(set(FIGURE.findall(text))):
        source = ROOT / "benchmarks" / figure
        files.append(File.generated(config, f"benchmarks/{figure}", abs_src_path=str(source)))
    return files


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    if page.file.src_uri == REPORT:
        return markdown
    up = "../" * page.file.src_uri.count("/")  # from the page's folder to docs/
    return markdown.replace(f"](../{up}benchmarks/", f"]({up}benchmarks/")
