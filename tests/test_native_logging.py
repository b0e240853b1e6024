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
