"""Which provider answers, from `Settings`: `HYBRID_PROVIDER`, else whichever credentials are set."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from hybrid._providers.base import Provider
from hybrid._providers.demo.model import DemoProvider
from hybrid._settings import Settings, SettingsError


def provider_name(settings: Settings) -> str:
    """`HYBRID_PROVIDER`, or `openai` if `OPENAI_API_KEY` is set, `azure` if `AZURE_OPENAI_ENDPOINT` is."""
    if settings.provider:
        return settings.provider
    if settings.openai_api_key:
        return "openai"
    if settings.azure_endpoint:
        return "azure"
    return "demo"


def provider_from_settings(
    settings: Settings, *, azure_ad_token_provider: Callable[[], Awaitable[str]] | None = None
) -> Provider:
    """The provider `settings` ask for; `SettingsError` names whatever is missing.

    `azure_ad_token_provider` signs Azure requests with Entra ID tokens instead of an API key, e.g.
    `azure.identity.aio.get_bearer_token_provider(credential, "https://cognitiveservices.azure.com/.default")`.
    """
    name = provider_name(settings)
    if name == "demo":
        return DemoProvider(
            ttft=settings.demo_ttft_ms / 1000,
            token_delay=settings.demo_token_ms / 1000,
            models=settings.model_choices or ("demo",),
        )
    # Imported here: the SDK takes ~0.35 s and ~17 MB to import, which the demo model does not need.
    import openai

    from hybrid._providers.openai.provider import OpenAIProvider, sdk_options

    needed = {"HYBRID_MODEL": bool(settings.model_choices)}
    if name == "openai":
        needed["OPENAI_API_KEY (any value for a server without keys)"] = bool(settings.openai_api_key)
    else:
        needed["AZURE_OPENAI_ENDPOINT"] = bool(settings.azure_endpoint)
        needed["OPENAI_API_VERSION"] = bool(settings.azure_api_version)
    missing = [variable for variable, present in needed.items() if not present]
    if missing:
        trigger = "OPENAI_API_KEY" if name == "openai" else "AZURE_OPENAI_ENDPOINT"
        why = f"HYBRID_PROVIDER={name}" if settings.provider else f"chosen because {trigger} is set"
        raise SettingsError(f"the {name} provider ({why}) needs {', '.join(missing)}")

    options = sdk_options(
        connect_timeout=settings.connect_timeout_seconds,
        first_token_timeout=settings.first_token_timeout_seconds,
        token_gap_timeout=settings.token_gap_timeout_seconds,
    )
    try:
        if name == "openai":
            client: openai.AsyncOpenAI = openai.AsyncOpenAI(
                api_key=settings.openai_api_key, base_url=settings.openai_base_url or None, **options
            )
        else:
            client = openai.AsyncAzureOpenAI(
                azure_endpoint=settings.azure_endpoint,
                api_version=settings.azure_api_version,
                api_key=settings.azure_api_key or None,
                azure_ad_token_provider=azure_ad_token_provider,
                **options,
            )
    except (openai.OpenAIError, ValueError) as exc:  # e.g. Azure without any credential
        raise SettingsError(f"the {name} provider cannot start: {exc}") from exc
    return OpenAIProvider(
        client,
        models=settings.model_choices,
        name=name,
        first_token_timeout=settings.first_token_timeout_seconds,
        token_gap_timeout=settings.token_gap_timeout_seconds,
        retries=settings.provider_retries,
    )
