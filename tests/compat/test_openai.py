"""What `hybrid._compat.openai` reads under the openai SDK is where it was: when a release moves it, this
fails and names the module to mend (the provider would still work, through httpx2's slower reader)."""

from __future__ import annotations

import asyncio

import httpx2
import openai
import pytest

from hybrid._compat import openai as compat
from hybrid._providers.openai import upstream
from tests.conftest import run_async
from tests.support.simulator_fixture import SimulatorProcess

pytestmark = pytest.mark.server


def test_the_answers_body_is_read_straight_from_aiohttp(simulator: SimulatorProcess) -> None:
    async def read() -> object:
        client = openai.AsyncOpenAI(
            api_key="sim", base_url=simulator.openai_base_url, http_client=upstream.http_client()
        )
        response = await client.post(
            "/chat/completions",
            cast_to=httpx2.Response,
            body={"model": "sim", "messages": [{"role": "user", "content": "hi"}], "stream": True},
            stream=True,
        )
        try:
            return compat.aiohttp_content(response)
        finally:
            await response.aclose()
            await client.close()

    content = run_async(asyncio.wait_for(read(), 10))
    assert content is not None, (
        f"openai {openai.__version__} moved the aiohttp response hybrid._compat.openai reads "
        f"(checked: {', '.join(compat.CHECKED)}): answers are read through httpx2, slower"
    )
