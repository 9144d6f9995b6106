"""Checks made before asking WandB anything, so that two failures are told at once instead of retried.

- A key the SDK refuses by its format: `wandb.Api` checks it locally and raises the same error as for a
  host that did not answer, which the caller would retry.
- A host where nothing accepts connections: wandb-core retries a refused connection until its timeout
  (60 s by default), on every attempt, so four attempts cost four minutes.
"""

from __future__ import annotations

import socket
import time
import urllib.request
from urllib.parse import urlsplit


def key_problem(api_key: str) -> str | None:
    """What is wrong with the key's format, by the SDK's own rule (it refuses such a key before sending
    anything), or None. Never quotes the key."""
    from wandb.sdk.lib.wbauth import check_api_key

    problem = check_api_key(api_key)
    if problem and api_key != api_key.strip():
        problem += " It starts or ends with whitespace: a newline or space copied with it?"
    return problem


def refused_connection(url: str, *, attempts: int = 3, wait_s: float = 0.5, timeout_s: float = 5.0) -> str | None:
    """Why nothing accepts a TCP connection where requests to `url` go (its host and port, or the proxy
    configured for it), or None when something does. None too when it cannot be told quickly (a host
    that drops packets): that is left to the SDK's timeouts and our retries. A short bounded retry lets a
    server that is just restarting come up."""
    parts = urlsplit(url)
    if not parts.hostname:
        return None
    host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    proxy = urllib.request.getproxies().get(parts.scheme)
    loopback = host in ("localhost", "127.0.0.1", "::1")  # never proxied (as wandb-core's Go client does)
    if proxy and not loopback and not urllib.request.proxy_bypass(host):
        through = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        host, port = through.hostname or host, through.port or 80
    why = None
    for attempt in range(attempts):
        try:
            socket.create_connection((host, port), timeout=timeout_s).close()
            return None
        except socket.gaierror as exc:
            if exc.errno != socket.EAI_NONAME:
                return None  # a resolver that may answer next time: not conclusive
            return f"the host name {host} does not resolve"
        except ConnectionRefusedError:
            why = f"connection refused: nothing is listening on {host}:{port}"
        except OSError:
            return None  # a timeout or an unreachable network: not conclusive
        if attempt + 1 < attempts:
            time.sleep(wait_s)
    return why
