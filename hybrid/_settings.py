"""Every environment variable hybrid reads, in one typed settings object.

`Settings.from_env()` is the only place hybrid's variables are read (`data_dir()` also reads the
XDG base-directory variable the user's desktop sets). The configuration table of
the docs is generated from the field metadata here (`reference_table()`), and a test keeps the two in
sync.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hybrid._errors import ConfigurationError

PROVIDERS = ("", "demo", "openai", "azure")
"""Values of `HYBRID_PROVIDER` (empty: chosen from the other variables)."""
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


class SettingsError(ConfigurationError, ValueError):
    """An environment variable holds a value hybrid cannot use."""


@dataclass(frozen=True, slots=True)
class Check:
    """A constraint on a setting's value: `test(value)` holds, or the error says the value `must ...`."""

    test: Callable[[Any], bool]
    must: str
    canonical: Callable[[Any], Any] | None = None
    """Applied to the value before the test, and kept: the rest of hybrid sees only canonical values."""


AT_LEAST_ONE = Check(lambda value: value >= 1, "must be at least 1")
POSITIVE = Check(lambda value: value > 0, "must be positive")
NOT_NEGATIVE = Check(lambda value: value >= 0, "must not be negative")


def one_of(choices: Collection[str], *, shown: Collection[str] | None = None) -> Check:
    """A value from `choices`, in any case (kept in lower case); the error lists `shown`, by default the
    choices."""
    return Check(lambda value: value in choices, f"must be one of {', '.join(shown or choices)}", str.lower)


def _setting(env: str, default: Any, doc: str, *, check: Check | None = None, secret: bool = False) -> Any:
    return field(default=default, repr=not secret, metadata={"env": env, "doc": doc, "check": check})


@dataclass(frozen=True)
class Settings:
    """Server, stream and demo-model configuration.

    Construct it directly in code (every field has a default), or from environment variables with
    `Settings.from_env()`.
    """

    host: str = _setting("HOST", "127.0.0.1", "Interface `make run` and `python -m hybrid` bind to.")
    port: int = _setting(
        "PORT", 8050, "Port `make run` and `python -m hybrid` listen on.", check=AT_LEAST_ONE
    )
    log_level: str = _setting(
        "HYBRID_LOG_LEVEL", "info", "Log level of the `hybrid` loggers.", check=one_of(LOG_LEVELS)
    )
    log_format: str = _setting(
        "HYBRID_LOG_FORMAT",
        "text",
        "`text`, or `json`: one JSON object per line (uvicorn's lines too), with each stream's request id.",
        check=one_of(LOG_FORMATS),
    )
    ready_timeout_seconds: float = _setting(
        "HYBRID_READY_TIMEOUT_SECONDS",
        2.0,
        "`/readyz`: longest wait for the provider's check (listing its models); the result is kept 5 s.",
        check=POSITIVE,
    )
    wsgi_threads: int = _setting(
        "HYBRID_WSGI_THREADS",
        8,
        "Threads Dash (pages, layout, callbacks) runs on; streams and Dash's scripts and assets never use "
        "them. More threads starve the event loop of the GIL (see the design decisions); raise it only "
        "for callbacks that mostly wait.",
        check=AT_LEAST_ONE,
    )
    tool_threads: int = _setting(
        "HYBRID_TOOL_THREADS",
        8,
        "Threads sync tools run on, a pool of the app's own: a tool past its "
        "timeout holds its thread until it returns, and while all of them are held so, new calls are "
        "refused at once (the model and the chat are told).",
        check=AT_LEAST_ONE,
    )
    answer_threads: int = _setting(
        "HYBRID_ANSWER_THREADS",
        8,
        "Threads synchronous answer functions (`def` and generator functions) run on, a pool of the app's "
        "own: a stopped answer whose step is running holds its thread until the step returns, and while "
        "all of them are held so, new synchronous answers end at once with the reason.",
        check=AT_LEAST_ONE,
    )
    max_body_bytes: int = _setting(
        "HYBRID_MAX_BODY_BYTES",
        1_048_576,
        "Largest request body accepted by Dash and the stream endpoints (larger: 413).",
        check=AT_LEAST_ONE,
    )
    keepalive_seconds: float = _setting(
        "HYBRID_KEEPALIVE_SECONDS",
        15.0,
        "A keep-alive comment is sent when a stream has been silent this long.",
        check=POSITIVE,
    )
    send_timeout_seconds: float = _setting(
        "HYBRID_SEND_TIMEOUT_SECONDS",
        30.0,
        "A stream whose client stops reading is dropped after a write has been blocked this long.",
        check=POSITIVE,
    )
    shutdown_grace_seconds: float = _setting(
        "HYBRID_SHUTDOWN_GRACE_SECONDS",
        5.0,
        "After SIGTERM, seconds the server waits for connections before it exits (open streams end at "
        "once with a notice; with Redis, resumable ones with `event: reconnect`, and their answers "
        "generate on for up to `HYBRID_RESUME_GRACE_SECONDS` more).",
        check=POSITIVE,
    )
    switch_interval_ms: float = _setting(
        "HYBRID_SWITCH_INTERVAL_MS",
        1.0,
        "Python's thread switch interval, set by `hybrid.main` (an embedded `create_app` leaves it alone); "
        "lower keeps token gaps even while Dash callbacks burn CPU.",
        check=POSITIVE,
    )
    secret_key: str = _setting(
        "HYBRID_SECRET_KEY",
        "",
        "Key that signs chat tickets; share it across workers and hosts. Unset: a random key per "
        "process (one worker only; several workers refuse to start).",
        secret=True,
    )
    ticket_seconds: float = _setting(
        "HYBRID_TICKET_SECONDS",
        60.0,
        "How long a signed chat ticket stays valid after the page gets it.",
        check=POSITIVE,
    )
    client_tickets_per_minute: int = _setting(
        "HYBRID_CLIENT_TICKETS_PER_MINUTE",
        120,
        "Chat tickets one client may have signed per minute in one process, in bursts of up to a fifth of "
        "it (past it the Chat shows the refusal; 0: no limit).",
        check=NOT_NEGATIVE,
    )
    body_timeout_seconds: float = _setting(
        "HYBRID_BODY_TIMEOUT_SECONDS",
        10.0,
        "Time a stream request's body may take to arrive, before any place is taken for it (slower: 408).",
        check=POSITIVE,
    )
    max_tokens: int = _setting(
        "HYBRID_MAX_TOKENS", 4096, "Most tokens one answer may have (the server's limit).", check=POSITIVE
    )
    max_context_chars: int = _setting(
        "HYBRID_MAX_CONTEXT_CHARS",
        100_000,
        "Largest `context` a `hybrid.Chat` may send with a question, in characters of JSON (larger: 413, "
        "shown in the chat).",
        check=AT_LEAST_ONE,
    )
    max_streams: int = _setting(
        "HYBRID_MAX_STREAMS",
        10_000,
        "Streams open at once in one process before new ones get 503 (0: no cap).",
        check=NOT_NEGATIVE,
    )
    client_streams: int = _setting(
        "HYBRID_CLIENT_STREAMS",
        4,
        "Chat streams one client may have open at once before 429 (0: no limit).",
        check=NOT_NEGATIVE,
    )
    client_rate_per_minute: int = _setting(
        "HYBRID_CLIENT_RATE_PER_MINUTE",
        60,
        "Chat streams one client may start per minute, in bursts of up to a fifth of it (0: no limit).",
        check=NOT_NEGATIVE,
    )
    resume_grace_seconds: float = _setting(
        "HYBRID_RESUME_GRACE_SECONDS",
        20.0,
        "Resumable answers (clients that send `Hybrid-Resumable: 1`): how long an answer keeps generating "
        "after its connection dropped without a Stop, and how long an ended answer stays resumable. "
        "0: off (a dropped connection stops the answer at once).",
        check=NOT_NEGATIVE,
    )
    resume_readers: int = _setting(
        "HYBRID_RESUME_READERS",
        4,
        "Resume connections that may read one answer at once in one process; past it a resume gets 429. "
        "Each resume also takes one of its client's streams and rate "
        "(`HYBRID_CLIENT_STREAMS`, `HYBRID_CLIENT_RATE_PER_MINUTE`).",
        check=AT_LEAST_ONE,
    )
    resume_ended_answers: int = _setting(
        "HYBRID_RESUME_ENDED_ANSWERS",
        1_000,
        "Ended answers one process keeps in memory for resumes; past it the oldest ended is forgotten first "
        "(with Redis, other workers' copies stay resumable there).",
        check=AT_LEAST_ONE,
    )
    resume_ended_bytes: int = _setting(
        "HYBRID_RESUME_ENDED_BYTES",
        64 * 1_048_576,
        "Bytes of ended answers one process keeps in memory for resumes; past it the oldest ended is "
        "forgotten first.",
        check=AT_LEAST_ONE,
    )
    resume_max_events: int = _setting(
        "HYBRID_RESUME_MAX_EVENTS",
        10_000,
        "Events of one answer kept for resuming (in memory and in Redis); a resume from further back "
        "gets 410.",
        check=AT_LEAST_ONE,
    )
    redis_url: str = _setting(
        "HYBRID_REDIS_URL",
        "",
        "Redis shared by all workers and hosts, e.g. `redis://10.0.0.5:6379/0`: answers resume on any "
        "worker, tickets are once-only and client limits hold across the cluster. Unset: per process. "
        "Set but unreachable at start: the server refuses to start.",
        secret=True,
    )
    database_url: str = _setting(
        "HYBRID_DATABASE_URL",
        "",
        "Where conversations are kept: `sqlite:///relative/file.db`, `sqlite:////absolute/file.db`, or "
        "`postgresql://user:password@host:5432/db` (with `?sslmode=require` if needed) for several hosts. "
        "Unset: SQLite in `conversations.db` of the data folder (`HYBRID_DATA_DIR`). Unreachable at start: "
        "the server refuses to start.",
        secret=True,
    )
    data_dir: str = _setting(
        "HYBRID_DATA_DIR",
        "",
        "Folder for what hybrid keeps on disk (the default SQLite database), created when missing. Unset: "
        "`$XDG_DATA_HOME/hybrid`, else `~/.local/share/hybrid`.",
    )
    database_pool_size: int = _setting(
        "HYBRID_DATABASE_POOL_SIZE",
        5,
        "Connections one worker holds to the conversation database at most; an operation that waits 5 s "
        "for one fails with 503. Postgres allows 100 connections by default: keep workers x this below it.",
        check=AT_LEAST_ONE,
    )
    history_retention_days: int = _setting(
        "HYBRID_HISTORY_RETENTION_DAYS",
        0,
        "Conversations not updated for this many days are deleted, messages and feedback with them "
        "(0: kept until their owner deletes them).",
        check=NOT_NEGATIVE,
    )
    history_max_conversations: int = _setting(
        "HYBRID_HISTORY_MAX_CONVERSATIONS",
        0,
        "Conversations one user may keep; a new one past it is refused (409) until they delete some "
        "(0: no limit).",
        check=NOT_NEGATIVE,
    )
    history_max_bytes: int = _setting(
        "HYBRID_HISTORY_MAX_BYTES",
        0,
        "Bytes of messages one user may keep (UTF-8 text, thinking, tool calls and context values); a "
        "question past it is refused (409), while answers to accepted questions are always saved "
        "(0: no limit).",
        check=NOT_NEGATIVE,
    )
    cors_origins: str = _setting(
        "HYBRID_CORS_ORIGINS",
        "",
        "Origins allowed to call the app cross-site, comma-separated (none: closed). Requests that change "
        "state (POST, PUT, PATCH, DELETE) from any other site are refused (403). `*` is refused unless "
        "`HYBRID_CORS_ALLOW_ANY_ORIGIN` is set.",
    )
    cors_allow_any_origin: bool = _setting(
        "HYBRID_CORS_ALLOW_ANY_ORIGIN",
        False,
        "Accept `HYBRID_CORS_ORIGINS='*'`: every site may sign tickets and stream answers with its "
        "visitors' browsers (logged as a warning at start). For public demos only.",
    )
    frame_ancestors: str = _setting(
        "HYBRID_FRAME_ANCESTORS", "'self'", "Who may frame the pages (CSP `frame-ancestors`)."
    )
    script_sources: str = _setting(
        "HYBRID_SCRIPT_SOURCES",
        "",
        "More sources the pages may run scripts from, space-separated, added to the strict `script-src` "
        "(e.g. `https://cdn.example.com`, or `'unsafe-eval'` for Plotly's WebGL traces); `*` turns the "
        "script policy off.",
    )
    user_header: str = _setting(
        "HYBRID_USER_HEADER",
        "",
        "Header in which an authenticating proxy names the signed-in user (e.g. `X-Forwarded-User`). Set: "
        "requests without it get 401 (probes excepted), tickets and limits are per user. Only the proxy "
        "may reach the app.",
    )
    allow_client_system_prompt: bool = _setting(
        "HYBRID_ALLOW_CLIENT_SYSTEM_PROMPT",
        False,
        "Let chat clients send their own system prompt (`system`); otherwise only server presets apply.",
    )
    debug: bool = _setting(
        "HYBRID_DEBUG",
        False,
        "Dash's dev tools for the app (`enable_dev_tools(debug=True)`): error pop-ups, the callback graph, "
        "hot reload. For development only: tracebacks reach the browser.",
    )
    demo_ttft_ms: float = _setting(
        "HYBRID_DEMO_TTFT_MS", 350.0, "Demo model: time to first token, in milliseconds.", check=NOT_NEGATIVE
    )
    demo_token_ms: float = _setting(
        "HYBRID_DEMO_TOKEN_MS", 25.0, "Demo model: delay between tokens, in milliseconds.", check=NOT_NEGATIVE
    )
    provider: str = _setting(
        "HYBRID_PROVIDER",
        "",
        "`demo`, `openai` or `azure`. Unset: `openai` if `OPENAI_API_KEY` is set, else `azure` if "
        "`AZURE_OPENAI_ENDPOINT` is set, else `demo`.",
        check=one_of(PROVIDERS, shown=PROVIDERS[1:]),
    )
    model: str = _setting(
        "HYBRID_MODEL",
        "",
        "The model answers come from (Azure: the deployment name); required for openai and azure.",
    )
    models: str = _setting(
        "HYBRID_MODELS", "", "More models the chat page offers, comma-separated (`HYBRID_MODEL` comes first)."
    )
    openai_api_key: str = _setting(
        "OPENAI_API_KEY", "", "API key of OpenAI or the compatible server.", secret=True
    )
    openai_base_url: str = _setting(
        "OPENAI_BASE_URL", "", "An OpenAI-compatible server, e.g. `http://127.0.0.1:8000/v1`. Unset: OpenAI."
    )
    azure_endpoint: str = _setting(
        "AZURE_OPENAI_ENDPOINT", "", "Azure OpenAI resource URL, e.g. `https://NAME.openai.azure.com`."
    )
    azure_api_key: str = _setting(
        "AZURE_OPENAI_API_KEY", "", "Azure OpenAI key (or the SDK's `AZURE_OPENAI_AD_TOKEN`).", secret=True
    )
    azure_api_version: str = _setting(
        "OPENAI_API_VERSION", "", "Azure OpenAI API version, e.g. `2024-10-21`."
    )
    connect_timeout_seconds: float = _setting(
        "HYBRID_CONNECT_TIMEOUT_SECONDS",
        5.0,
        "Providers: time allowed to connect to the model's server.",
        check=POSITIVE,
    )
    first_token_timeout_seconds: float = _setting(
        "HYBRID_FIRST_TOKEN_TIMEOUT_SECONDS",
        60.0,
        "Providers: time allowed from the question to the first text of the answer, retries included.",
        check=POSITIVE,
    )
    token_gap_timeout_seconds: float = _setting(
        "HYBRID_TOKEN_GAP_TIMEOUT_SECONDS",
        30.0,
        "Providers: longest silence allowed once the answer started.",
        check=POSITIVE,
    )
    provider_retries: int = _setting(
        "HYBRID_PROVIDER_RETRIES",
        2,
        "Providers: retries before the first text (connection errors, 408, 409, 429, 5xx), with backoff.",
        check=NOT_NEGATIVE,
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every field from its environment variable; unset variables keep their default."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for spec in dataclasses.fields(cls):
            raw = environ.get(spec.metadata["env"])
            if raw is None or raw == "":
                continue
            values[spec.name] = _parse(spec, raw)
        return cls(**values)

    def __post_init__(self) -> None:
        for spec in dataclasses.fields(self):
            check: Check | None = spec.metadata["check"]
            if check is None:
                continue
            value = getattr(self, spec.name)
            if check.canonical is not None:
                value = check.canonical(value)
                object.__setattr__(self, spec.name, value)  # frozen: set once, while constructing
            if not check.test(value):
                raise SettingsError(f"{spec.metadata['env']} {check.must}, got {value!r}")
        if "*" in self.cors_origin_list and not self.cors_allow_any_origin:
            raise SettingsError(
                "HYBRID_CORS_ORIGINS='*' lets every site sign tickets and stream answers with its visitors' "
                "browsers: list the origins that may, or set HYBRID_CORS_ALLOW_ANY_ORIGIN=true to mean it"
            )

    @property
    def cors_origin_list(self) -> tuple[str, ...]:
        """The origins of `HYBRID_CORS_ORIGINS`, without blanks."""
        return tuple(origin.strip() for origin in self.cors_origins.split(",") if origin.strip())

    @property
    def model_choices(self) -> tuple[str, ...]:
        """`HYBRID_MODEL`, then the other `HYBRID_MODELS`, without blanks or repeats."""
        names = [self.model, *self.models.split(",")]
        return tuple(dict.fromkeys(name.strip() for name in names if name.strip()))


def data_dir(settings: Settings, environ: Mapping[str, str] | None = None) -> Path:
    """The folder hybrid keeps its files in (the default SQLite database): `HYBRID_DATA_DIR`, else
    `$XDG_DATA_HOME/hybrid`, else `~/.local/share/hybrid`.

    The XDG base-directory specification names `XDG_DATA_HOME` for a user's data files and says a
    relative value is to be ignored; it is read here rather than in `Settings` because it is not
    hybrid's variable (it belongs to the user's desktop, and `Settings` documents only hybrid's). The
    folder is not created here: the store that writes into it does that.
    """
    if settings.data_dir:
        return Path(settings.data_dir).expanduser().absolute()
    environ = os.environ if environ is None else environ
    xdg = environ.get("XDG_DATA_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return base / "hybrid"


def _parse(spec: dataclasses.Field[Any], raw: str) -> Any:
    kinds = {"int": int, "float": float, "str": str, "bool": bool}
    kind = spec.type if isinstance(spec.type, type) else kinds[spec.type]
    if kind is bool:
        # bool("false") is True: accept the usual spellings instead.
        if raw.strip().lower() in ("1", "true", "yes", "on"):
            return True
        if raw.strip().lower() in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{spec.metadata['env']} must be true or false, got {raw!r}")
    try:
        return kind(raw)
    except ValueError:
        noun = {int: "an integer", float: "a number"}.get(kind, "a string")
        raise SettingsError(f"{spec.metadata['env']} must be {noun}, got {raw!r}") from None


def reference_table() -> str:
    """The configuration table of the docs (`docs/configuration.md`), in markdown."""
    rows = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for spec in dataclasses.fields(Settings):
        secret = not spec.repr  # its value is never shown, here or in `repr(settings)`
        default = "(unset)" if spec.default == "" else "(secret)" if secret else f"`{spec.default}`"
        doc = spec.metadata["doc"] + (" *Secret: never printed.*" if secret else "")
        rows.append(f"| `{spec.metadata['env']}` | {default} | {doc} |")
    return "\n".join(rows)
