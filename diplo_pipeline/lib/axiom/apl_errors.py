"""What can go wrong querying Axiom, as exceptions a caller can tell apart (retry later, fix the token, fix
the query). Messages never hold the token or request headers."""

from __future__ import annotations


class AxiomError(Exception):
    """An Axiom query failed."""

    def __init__(self, message: str, *, status: int | None = None, trace_id: str | None = None) -> None:
        super().__init__(message + (f" [X-Axiom-Trace-Id {trace_id}]" if trace_id else ""))
        self.status = status
        self.trace_id = trace_id


class AxiomAuthError(AxiomError):
    """401/403: retrying cannot help, the configuration must change."""


class AxiomQueryError(AxiomError):
    """4xx other than auth and rate limits: the query itself is wrong."""


class AxiomUnavailableError(AxiomError):
    """Still failing (429, 5xx, timeouts, connection errors) after every attempt."""


class AxiomPagingError(AxiomError):
    """More events share one timestamp than the largest page we allow ourselves to ask for."""


class Retryable(Exception):
    """One failed attempt worth repeating; `wait_s` is what the server asked us to wait, if it said."""

    def __init__(self, description: str, *, status: int | None = None, trace_id: str | None = None,
                 wait_s: float | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.status = status
        self.trace_id = trace_id
        self.wait_s = wait_s
