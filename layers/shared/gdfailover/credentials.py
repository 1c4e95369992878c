"""Redis AUTH credentials from Secrets Manager (via Powertools Parameters, cached)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

SECRET_CACHE_SECONDS = 300


@dataclass(frozen=True, slots=True)
class Credentials:
    password: str | None = field(default=None, repr=False)
    username: str | None = None


NO_CREDENTIALS = Credentials()


class SecretFormatError(ValueError):
    """The secret exists but does not hold an AUTH token we understand."""


def parse_auth_secret(secret: str) -> Credentials:
    """A plain string is the AUTH token; JSON may carry ``password`` and optional ``username`` (RBAC)."""
    text = secret.strip()
    if not text:
        raise SecretFormatError("the AUTH secret is empty")
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except json.JSONDecodeError:
            raise SecretFormatError("the AUTH secret looks like JSON but does not parse") from None
        password = document.get("password")
        username = document.get("username")
        if not isinstance(password, str) or not password:
            raise SecretFormatError("the AUTH secret JSON has no non-empty 'password' string")
        if username is not None and not isinstance(username, str):
            raise SecretFormatError("the AUTH secret JSON 'username' must be a string")
        return Credentials(password=password, username=username or None)
    return Credentials(password=text)


def secrets_manager_credentials(secret_arn: str | None, fetch: Callable[[str], str]) -> Callable[[], Credentials]:
    """Return a callable giving the current credentials; ``fetch`` caches (Powertools ``get_secret``)."""
    if secret_arn is None:
        return lambda: NO_CREDENTIALS

    def load() -> Credentials:
        return parse_auth_secret(fetch(secret_arn))

    return load


def powertools_secret_fetcher(connect_timeout: float = 1.0, read_timeout: float = 1.0) -> Callable[[str], str]:
    """Secrets Manager through Powertools Parameters, cached for SECRET_CACHE_SECONDS, bounded timeouts."""
    from aws_lambda_powertools.utilities.parameters import SecretsProvider
    from botocore.config import Config

    provider = SecretsProvider(
        boto_config=Config(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"mode": "standard", "total_max_attempts": 2},
        )
    )

    def fetch(arn: str) -> str:
        value = provider.get(arn, max_age=SECRET_CACHE_SECONDS)
        if isinstance(value, bytes):
            return value.decode()
        return str(value)

    return fetch
