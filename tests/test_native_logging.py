"""Rust-side log records reach Python's ``logging`` under the ``keyseal`` logger tree."""

from __future__ import annotations

import logging

import pytest

import keyseal


def _vault(store: str) -> keyseal.Vault:
    return keyseal.Vault(f"memory://{store}", keyring=keyseal.Keyring.generate(), namespace="logs")


def test_rewrap_summary_is_logged_from_rust(caplog: pytest.LogCaptureFixture) -> None:
    vault = _vault("native-log-a")
    vault.put("a", "value-that-must-not-be-logged")
    with caplog.at_level(logging.INFO, logger="keyseal"):
        vault.rewrap()
    records = [r for r in caplog.records if r.name.startswith("keyseal.core")]
    assert records, "no log record arrived from the Rust core"
    assert any("rewrap finished: 1 scanned" in r.getMessage() for r in records)
    assert all("value-that-must-not-be-logged" not in r.getMessage() for r in caplog.records)


def test_level_changes_after_first_log_take_effect(caplog: pytest.LogCaptureFixture) -> None:
    vault = _vault("native-log-b")
    vault.put("a", "x")
    with caplog.at_level(logging.INFO, logger="keyseal"):
        vault.rewrap()
    assert any(r.name.startswith("keyseal.core") for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="keyseal"):
        vault.rewrap()
    assert not [r for r in caplog.records if r.name.startswith("keyseal.core")]


def test_rust_log_records_pass_through_the_redactor(
    redis_plain: object, caplog: pytest.LogCaptureFixture
) -> None:
    """A value known to the process-wide redactor never reaches a handler from keyseal's own logs."""
    unix_path = str(redis_plain.unix_path)  # type: ignore[attr-defined]
    unix_url = redis_plain.unix_url  # type: ignore[attr-defined]
    keyseal.redactor().add_secret(unix_path)
    # A client setting no other test uses, so this Vault opens a fresh connection and logs it.
    vault = keyseal.Vault(unix_url, keyring=keyseal.Keyring.generate(), max_idle_connections=3)
    try:
        with caplog.at_level(logging.DEBUG, logger="keyseal"):
            vault.put("a", "b")
    finally:
        vault.close()
    opened = [r for r in caplog.records if r.name == "keyseal.core.store.redis"]
    assert opened, "the connection log line did not arrive"
    for record in opened:
        assert unix_path not in record.getMessage()
        assert "[REDACTED" in record.getMessage()
