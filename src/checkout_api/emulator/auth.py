"""API keys: reading them from `Authorization`, accepting or refusing them, masking them in logs.

With `EmulatorConfig.api_keys` unset any secret or restricted key (sk_/rk_, test or live) is
accepted; a live key makes livemode objects. Keys are never echoed whole.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping

from checkout_api.emulator import errors
from checkout_api.emulator.config import EmulatorConfig

KEY_PREFIXES = ("sk_test_", "rk_test_", "sk_live_", "rk_live_")
LIVE_PREFIXES = ("sk_live_", "rk_live_")


def authenticate(authorization: str, config: EmulatorConfig) -> str:
    """The API key of a request, or the 401 StripeError Stripe would answer."""
    key = _api_key(authorization)
    if not key:
        raise errors.no_api_key()
    if config.api_keys is None:
        valid = key.startswith(KEY_PREFIXES) and len(key) > len("sk_test_")
    else:
        valid = key in config.api_keys
    if not valid:
        raise errors.invalid_api_key(key)
    return key


def log_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers lower-cased for the request log, the key shown as `Bearer sk_test_…1234`."""
    logged = {name.lower(): value for name, value in headers.items()}
    if "authorization" in logged:
        key = _api_key(logged["authorization"])
        prefix = next((p for p in KEY_PREFIXES if key.startswith(p)), "")
        logged["authorization"] = f"Bearer {prefix}…{key[-4:] if len(key) > 12 else ''}"
    return logged


def _api_key(authorization: str) -> str:
    scheme, _, credential = authorization.partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        return credential.strip()
    if scheme == "basic":
        try:
            decoded = base64.b64decode(credential.strip()).decode()
        except ValueError:
            return authorization
        return decoded.partition(":")[0]
    return authorization.strip()
