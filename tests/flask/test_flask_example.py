"""examples/flask/app.py through Flask's test client, on a real redis-server."""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import io
import logging
import sys
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from keyseal import Keyring, Vault

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "flask" / "app.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"keyseal_example_flask_app_{uuid.uuid4().hex}", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def signature(key: str, city: str) -> str:
    return hmac.new(key.encode(), city.encode(), hashlib.sha256).hexdigest()[:16]


def test_flask_example(redis_plain: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    key = "sk-live-" + uuid.uuid4().hex
    monkeypatch.setenv("SERVICE_A_API_KEY", key)
    module = load_example()
    ring = Keyring.generate()
    ns = f"ex-{uuid.uuid4().hex[:8]}"
    # A database of its own, emptied first: the test inspects every key the example wrote.
    url = redis_plain.url.rsplit("/", 1)[0] + "/6"
    raw = redis_plain.client(db=6)
    raw.flushdb()
    app = module.create_app(
        {
            "KEYSEAL_URL": url,
            "CACHE_REDIS_URL": url,
            "KEYSEAL_KEYS": ring.export(),
            "KEYSEAL_NAMESPACE": ns,
            "CACHE_OPTIONS": {"keyring": ring.export(), "namespace": ns + "-cache"},
        }
    )
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    app.logger.addHandler(handler)
    app.logger.setLevel(logging.INFO)
    try:
        client = app.test_client()
        first = client.get("/forecast/paris")
        assert first.status_code == 200
        assert first.json == {"city": "paris", "forecast": "sunny", "signature": signature(key, "paris")}
        assert client.get("/forecast/paris").json == first.json
        assert module.upstream_calls == ["paris"]  # memoized, in the sealed cache
        assert client.get("/headline").json == client.get("/headline").json
        assert module.upstream_calls == ["paris", "headline"]  # the cached view ran once
    finally:
        app.logger.removeHandler(handler)
    logged = stream.getvalue()
    assert "forecast for paris served with key" in logged
    assert key not in logged  # app.logger carries keyseal's RedactingFilter
    keys = list(raw.scan_iter())
    assert len(keys) >= 3  # the API key, the memoized answer (and its version), the cached view
    for name in keys:
        value = raw.get(name) or b""
        assert key.encode() not in value
        assert b"paris" not in value
        assert b"paris" not in name
    with Vault(url, keyring=ring, namespace=ns) as vault:
        ttl = vault.ttl(module.KEY_NAME)
        assert ttl is not None
        assert 3000 < ttl <= 3600
    module.keyseal_ext.close(app)
    app.extensions["cache"][module.cache].close()
    del sys.modules[module.__name__]
