"""ASGI entry for worker processes (`--workers N`): each worker reads the environment itself."""

from __future__ import annotations

from fastapi import FastAPI

from checkout_api.app import create_app
from checkout_api.config import load_settings
from checkout_api.logging import configure_logging


def create_app_from_env() -> FastAPI:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)
