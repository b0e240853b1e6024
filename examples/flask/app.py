"""Flask example: a third-party API key sealed in Redis by keyseal, and answers cached with it.

``KeySeal`` keeps the provider's key sealed in Redis (fetched once, here from the environment,
standing in for the provider's token endpoint or a secrets manager); Flask-Caching's
``keyseal.flask.EncryptedRedisCache`` seals the cached upstream answers too. ``app.logger``
gets keyseal's RedactingFilter, so a revealed key never reaches the log verbatim.

    export KEYSEAL_KEYS="$(keyseal keygen)" SERVICE_A_API_KEY=sk-...
    flask --app app:create_app run
    curl http://127.0.0.1:5000/forecast/paris
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Any

from flask import Flask, jsonify
from flask_caching import Cache

from keyseal.flask import KeySeal, vault

KEY_NAME = "api_key:service_a"
KEY_TTL = 3600  # re-fetched from the provider after an hour

keyseal_ext = KeySeal()
cache = Cache()
upstream_calls: list[str] = []  # for the tests: how often the "third-party API" was called


def fetch_key_from_provider() -> str:
    """Stands in for the provider's token endpoint (no network in the example)."""
    return os.environ["SERVICE_A_API_KEY"]


def service_key() -> str:
    secret = vault.get(KEY_NAME)
    if secret is None:
        vault.put(KEY_NAME, fetch_key_from_provider(), ttl=KEY_TTL)
        secret = vault.get(KEY_NAME)
        assert secret is not None
    return secret.reveal()  # revealed values are known to the redactor: logs show a mask


@cache.memoize(timeout=300)
def call_upstream(city: str) -> dict[str, str]:
    """Stands in for the third-party API: its answer depends on the key, which it never echoes."""
    key = service_key()
    upstream_calls.append(city)
    signature = hmac.new(key.encode(), city.encode(), hashlib.sha256).hexdigest()[:16]
    return {"city": city, "forecast": "sunny", "signature": signature}


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    url = os.environ.get("KEYSEAL_URL", "redis://127.0.0.1:6379/0")
    app.config.update(
        KEYSEAL_URL=url,
        KEYSEAL_NAMESPACE="example",
        CACHE_TYPE="keyseal.flask.EncryptedRedisCache",
        CACHE_REDIS_URL=url,
        CACHE_DEFAULT_TIMEOUT=300,
    )
    app.config.update(config or {})
    keys = app.config.get("KEYSEAL_KEYS") or os.environ["KEYSEAL_KEYS"]
    app.config.setdefault("CACHE_OPTIONS", {"keyring": keys, "namespace": "example-cache"})
    keyseal_ext.init_app(app)
    cache.init_app(app)

    @app.get("/forecast/<city>")
    def forecast(city: str) -> Any:
        answer = call_upstream(city)
        app.logger.info("forecast for %s served with key %s", city, service_key())
        return jsonify(answer)

    @app.get("/headline")
    @cache.cached(timeout=60)
    def headline() -> Any:
        upstream_calls.append("headline")
        return jsonify(headline=f"key ends in {len(service_key())} characters")

    return app
