"""What can go wrong talking to WandB, and which SDK failures are worth another try."""

from __future__ import annotations


class WandbAuthError(RuntimeError):
    """WandB refused the key. Not retried: the same key will be refused again."""


class WandbUnavailableError(RuntimeError):
    """WandB kept failing after every retry."""


def http_status(exc: BaseException) -> int | None:
    """The HTTP status behind an SDK error, wherever the SDK put it."""
    for candidate in (exc, getattr(exc, "exc", None), exc.__cause__):
        response = getattr(candidate, "response", None)
        status = getattr(response, "http_status", None)
        if status:
            return int(status)
    return None


def is_auth_failure(exc: BaseException) -> bool:
    # Not every `AuthenticationError` is a refused key: the SDK raises it too when the host did not
    # answer while it verified the key. The status WandB sent says which.
    return http_status(exc) in (401, 403)


def is_transient(exc: BaseException) -> bool:
    """Worth another try: anything from the transport that is not a refused key or a missing object."""
    from wandb.errors import CommError
    from wandb.sdk.lib.service.service_connection import WandbApiFailedError

    if is_auth_failure(exc):
        return False
    return isinstance(exc, CommError | WandbApiFailedError | TimeoutError | ConnectionError)
