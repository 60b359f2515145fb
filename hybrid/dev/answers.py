"""Answers for tests and benchmarks of the page's rendering."""

from __future__ import annotations

from hybrid._providers.demo.model import tokens


def long_markdown_answer(count: int = 4000) -> list[str]:
    """About `count` tokens of mixed markdown, as a model streams them: paragraphs, lists, a table and
    fenced code, repeated (what the render budget of the chat is measured on)."""
    section = (
        "## Section {n}\n\nThis paragraph explains part {n} of the answer with **bold**, *emphasis* and "
        "`inline code`, and it runs for a while so that the block grows over many tokens before it ends.\n\n"
        "- first point of section {n}\n- second point with a [link](https://example.com/{n})\n"
        "- third point\n\n| key | value |\n|---|---|\n| n | {n} |\n| square | {sq} |\n\n"
        "```python\ndef section_{n}(x: int) -> int:\n    # a comment\n    return x * {n}\n```\n\n"
    )
    out: list[str] = []
    n = 0
    while len(out) < count:
        n += 1
        out += tokens(section.format(n=n, sq=n * n))
    return out[:count]
