"""An OpenAI-compatible chat server with configurable pace and faults: `python -m hybrid.dev.simulator`.

Tests and benchmarks point the `openai` and `azure` providers at it; so can `make run`
(`OPENAI_BASE_URL=http://127.0.0.1:8100/v1 OPENAI_API_KEY=sim HYBRID_MODEL=sim`).
"""

from hybrid.dev.simulator.app import RequestRecord, Simulator
from hybrid.dev.simulator.scenario import Scenario, answer_tokens

__all__ = ["RequestRecord", "Scenario", "Simulator", "answer_tokens"]
