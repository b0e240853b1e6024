"""Django system checks for KEYSEAL_CLIENT_CERT (imported by the keyseal.django app's ready()).

Registered for every check run, not only ``--deploy``: trusting every address is wrong everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register

from keyseal._cert_policy import PROXIES, is_match_all, parse_networks, read_ca_bundle
from keyseal.exceptions import ConfigurationError

__all__ = ["check_client_cert"]

_SETTING = "KEYSEAL_CLIENT_CERT"
_KNOWN = frozenset(
    {
        "PROXY",
        "HEADER",
        "VERIFY_HEADER",
        "TRUSTED_PROXIES",
        "CA_BUNDLE",
        "ALLOWED_FINGERPRINTS",
        "ALLOWED_SUBJECTS",
        "ALLOWED_SANS",
        "REQUIRED",
        "EXEMPT_PATHS",
    }
)


@register(Tags.security)
def check_client_cert(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """keyseal.E010 match-all TRUSTED_PROXIES; E011 unknown PROXY; E012 unreadable CA_BUNDLE;
    E013 a TRUSTED_PROXIES entry that is no address or CIDR; E014 not a dict or unknown keys."""
    conf: Any = getattr(settings, _SETTING, None)
    if conf is None:
        return []
    if not isinstance(conf, dict):
        return [Error(f"{_SETTING} must be a dict", id="keyseal.E014")]
    errors: list[CheckMessage] = []
    unknown = sorted(map(str, set(conf) - _KNOWN))
    if unknown:
        errors.append(
            Error(
                f"{_SETTING} has unknown keys: {', '.join(unknown)}",
                hint=f"Known keys: {', '.join(sorted(_KNOWN))}.",
                id="keyseal.E014",
            )
        )
    proxy = conf.get("PROXY", "nginx")
    if proxy not in PROXIES:
        errors.append(
            Error(
                f"{_SETTING}['PROXY'] is not a known proxy format",
                hint=f"Use one of: {', '.join(PROXIES)}.",
                id="keyseal.E011",
            )
        )
    entries = conf.get("TRUSTED_PROXIES") or []
    if isinstance(entries, str):
        entries = [entries]
    for i, entry in enumerate(entries):
        try:
            (net,) = parse_networks([entry])
        except ConfigurationError:
            errors.append(
                Error(
                    f"{_SETTING}['TRUSTED_PROXIES'] entry #{i} is not an IP address or CIDR",
                    id="keyseal.E013",
                )
            )
            continue
        if is_match_all(net):
            errors.append(
                Error(
                    f"{_SETTING}['TRUSTED_PROXIES'] contains {net}: every client could forge a certificate",
                    hint="List only the addresses of your TLS-terminating proxies.",
                    id="keyseal.E010",
                )
            )
    bundle = conf.get("CA_BUNDLE")
    if bundle is not None:
        try:
            read_ca_bundle(bundle)
        except (ConfigurationError, TypeError) as exc:
            errors.append(Error(f"{_SETTING}['CA_BUNDLE']: {exc}", id="keyseal.E012"))
    return errors
