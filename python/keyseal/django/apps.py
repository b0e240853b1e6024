"""The ``keyseal.django`` Django app: registers the security checks; needs no database."""

from __future__ import annotations

import importlib
import importlib.util

from django.apps import AppConfig


class KeysealConfig(AppConfig):
    name = "keyseal.django"
    label = "keyseal"
    verbose_name = "keyseal"

    def ready(self) -> None:
        # Importing registers the checks (django.core.checks.register runs at import time).
        importlib.import_module("keyseal.django.checks")
        # Client-certificate checks live beside the middleware that needs them, when present.
        if importlib.util.find_spec("keyseal.django.cert_checks") is not None:
            importlib.import_module("keyseal.django.cert_checks")
