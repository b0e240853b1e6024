"""Helpers shared by the framework shims (keyseal.flask, keyseal.fastapi): argument checks only."""

from __future__ import annotations

from keyseal._native import Keyring
from keyseal.exceptions import ConfigurationError


def keyring_from(value: object, *, what: str) -> Keyring:
    """A Keyring from a Keyring or its exported text; ConfigurationError (without the text) otherwise."""
    if isinstance(value, Keyring):
        return value
    if isinstance(value, str):
        try:
            return Keyring.from_string(value)
        except (ValueError, ConfigurationError) as err:
            # The core's reason names what is wrong, never the text (which may be a real keyring).
            raise ConfigurationError(f"{what} is not a valid keyring text: {err}") from None
    raise ConfigurationError(
        f"{what} must be a keyseal.Keyring or its exported text, not {type(value).__name__}"
    )
