"""cachelib's and Flask-Caching's own generic cache tests, run unchanged against EncryptedRedisCache.

The suites come from the sdists of the installed cachelib and Flask-Caching (see
_flask_reference.py). Each runs twice: against keyseal.flask.EncryptedRedisCache, and, as the
control showing what they expect, against the projects' own RedisCache on the same redis-server
(in a database of its own, since their clear() may FLUSHDB). Under CI=true a suite that cannot be
fetched is an error, not a skip.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import cachelib
import flask_caching
import pytest
from _flask_reference import ReferenceUnavailable, cachelib_mixins, flask_caching_generic
from flask import Flask
from flask_caching import backends

from _servers import in_ci
from keyseal import Keyring

try:
    CACHELIB = cachelib_mixins()
    GenericCacheTests = flask_caching_generic()
except ReferenceUnavailable as err:
    if in_ci():
        raise
    pytest.skip(f"reference test suites unavailable: {err}", allow_module_level=True)

CONTROL_DB = 9  # the reference RedisCache's own database (its clear() without a prefix is FLUSHDB)


def encrypted_cache(port: int, **kwargs: Any) -> Any:
    from keyseal.flask import EncryptedRedisCache

    kwargs.setdefault("keyring", Keyring.generate())
    kwargs.setdefault("namespace", f"ref-{uuid.uuid4().hex[:12]}")
    return EncryptedRedisCache("127.0.0.1", port, **kwargs)


@pytest.fixture(params=[None, "test-key-prefix:"], ids=["no_key_prefix", "with_key_prefix"])
def key_prefix(request: pytest.FixtureRequest) -> str | None:
    """As cachelib's conftest: every mixin test runs without and with a key prefix."""
    return request.param  # type: ignore[no-any-return]


class CachelibSuite(
    CACHELIB["CommonTests"],  # type: ignore[misc]
    CACHELIB["ClearTests"],  # type: ignore[misc]
    CACHELIB["HasTests"],  # type: ignore[misc]
    CACHELIB["DeleteManyWithPrefixTests"],  # type: ignore[misc]
):
    """The mixins call ``self.cache_factory(**kwargs)``; subclasses provide ``make``."""

    made: list[Any]

    def make(self, port: int, **kwargs: Any) -> Any:
        raise NotImplementedError

    @pytest.fixture(autouse=True)
    def _cache_factory(
        self, request: pytest.FixtureRequest, key_prefix: str | None, redis_plain: Any
    ) -> Iterator[None]:
        made: list[Any] = []
        make = self.make

        def factory(_self: Any, *args: Any, **kwargs: Any) -> Any:
            kwargs.setdefault("key_prefix", key_prefix)
            cache = make(redis_plain.port, *args, **kwargs)
            made.append(cache)
            return cache

        assert request.cls is not None
        request.cls.cache_factory = factory
        yield
        for cache in made:
            cache.clear()
            if hasattr(cache, "vault"):  # ours: close the Vault now, not at garbage collection
                cache.close()


class TestCachelibSuiteOnEncryptedRedisCache(CachelibSuite):
    def make(self, port: int, *args: Any, **kwargs: Any) -> Any:
        # One namespace per cache, like the fresh FLUSHDB'd database cachelib's factory gives.
        return encrypted_cache(port, *args, **kwargs)


class TestCachelibSuiteOnCachelibRedisCache(CachelibSuite):
    def make(self, port: int, *args: Any, **kwargs: Any) -> Any:
        cache = cachelib.RedisCache("127.0.0.1", port, *args, db=CONTROL_DB, **kwargs)
        cache._write_client.flushdb()  # as cachelib's own factory does
        return cache


class FlaskCachingSuite(GenericCacheTests):  # type: ignore[misc,valid-type]
    _can_use_fast_sleep = False  # a real Redis expires keys by the wall clock

    @pytest.fixture
    def clock(self) -> None:
        """Flask-Caching's fake clock only serves its in-process backends; real sleeps are used here."""
        return None


class TestFlaskCachingSuiteOnEncryptedRedisCache(FlaskCachingSuite):
    @pytest.fixture(params=["host_port", "url", "flask_config"])
    def make_cache(self, request: pytest.FixtureRequest, redis_plain: Any) -> Iterator[Callable[[], Any]]:
        prefix = "werkzeug-test-case:"
        if request.param == "host_port":
            cache = encrypted_cache(redis_plain.port, key_prefix=prefix)
        elif request.param == "url":
            from keyseal.flask import EncryptedRedisCache

            cache = EncryptedRedisCache(
                redis_plain.url, key_prefix=prefix, keyring=Keyring.generate().export(), namespace="ref-url"
            )
        else:
            app = Flask(f"ref_{uuid.uuid4().hex}")
            app.config.update(
                CACHE_TYPE="keyseal.flask.EncryptedRedisCache",
                CACHE_REDIS_HOST="127.0.0.1",
                CACHE_REDIS_PORT=redis_plain.port,
                CACHE_KEY_PREFIX=prefix,
                CACHE_OPTIONS={"keyring": Keyring.generate().export(), "namespace": "ref-config"},
            )
            ext = flask_caching.Cache(app)
            cache = app.extensions["cache"][ext]
        cache.clear()
        yield lambda: cache
        cache.clear()
        cache.close()


class TestFlaskCachingSuiteOnFlaskCachingRedisCache(FlaskCachingSuite):
    @pytest.fixture
    def make_cache(self, redis_plain: Any) -> Iterator[Callable[[], Any]]:
        cache = backends.RedisCache(
            host="127.0.0.1", port=redis_plain.port, db=CONTROL_DB, key_prefix="werkzeug-test-case:"
        )
        yield lambda: cache
        cache.clear()
