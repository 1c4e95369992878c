"""Redis AUTH credentials from Secrets Manager (via Powertools Parameters, cached).

The secret is cached for SECRET_CACHE_SECONDS. After a rotation that retires the old token the cached
copy is wrong until it expires, so a probe whose AUTH is rejected re-reads the secret once past the cache
(:meth:`SecretCredentials.refresh`) before it reports ``auth_failed``: a rotation pages nobody.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

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


#: ``fetch(arn, force)``: the secret's string, from the cache unless ``force`` (then from Secrets Manager).
SecretFetch = Callable[[str, bool], str]


@runtime_checkable
class RefreshableCredentials(Protocol):
    """Credentials that can be re-read past their cache (after an AUTH failure)."""

    def __call__(self) -> Credentials: ...

    def refresh(self) -> Credentials: ...


class SecretCredentials:
    """The AUTH secret's current credentials: cached reads, and a forced re-read after a rejected AUTH."""

    def __init__(self, secret_arn: str, fetch: SecretFetch) -> None:
        self.secret_arn = secret_arn
        self._fetch = fetch

    def __call__(self) -> Credentials:
        return parse_auth_secret(self._fetch(self.secret_arn, False))

    def refresh(self) -> Credentials:
        """Read the secret again from Secrets Manager, bypassing (and refilling) the cache."""
        return parse_auth_secret(self._fetch(self.secret_arn, True))


def secrets_manager_credentials(secret_arn: str | None, fetch: SecretFetch) -> Callable[[], Credentials]:
    """Return a callable giving the current credentials; ``fetch`` caches (Powertools ``get_secret``).

    With a secret, the callable is a :class:`SecretCredentials`: ``refresh()`` re-reads past the cache."""
    if secret_arn is None:
        return lambda: NO_CREDENTIALS
    return SecretCredentials(secret_arn, fetch)


def powertools_secret_fetcher(connect_timeout: float = 1.0, read_timeout: float = 1.0) -> SecretFetch:
    """Secrets Manager through Powertools Parameters, cached for SECRET_CACHE_SECONDS, bounded timeouts.

    ``force=True`` is Powertools' ``force_fetch``: the value comes from Secrets Manager and refills the cache."""
    from aws_lambda_powertools.utilities.parameters import SecretsProvider
    from botocore.config import Config

    provider = SecretsProvider(
        boto_config=Config(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"mode": "standard", "total_max_attempts": 2},
        )
    )

    def fetch(arn: str, force: bool = False) -> str:
        value = provider.get(arn, max_age=SECRET_CACHE_SECONDS, force_fetch=force)
        if isinstance(value, bytes):
            return value.decode()
        return str(value)

    return fetch
