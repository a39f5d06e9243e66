"""The application factory and its lifespan: everything is built here, nothing at import.

The lifespan owns the database engine, the Stripe gateway (one pooled HTTP client), the
rate-limit storage and background tasks, and closes them at shutdown.
"""

from __future__ import annotations

import asyncio
import gc
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import FrameType

import structlog
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from checkout_api import metrics
from checkout_api.api import checkout, health, problems, webhook
from checkout_api.api.limits import RequestLimits
from checkout_api.api.middleware import RequestContextMiddleware
from checkout_api.api.state import Services
from checkout_api.checkout.background import BackgroundTasks
from checkout_api.checkout.fulfillment import (
    FulfillmentHook,
    FulfillmentWorker,
    HttpNotifier,
    load_callable,
)
from checkout_api.checkout.lifecycle import SessionLifecycle
from checkout_api.checkout.service import CheckoutPolicy, CheckoutService
from checkout_api.checkout.status import StatusService
from checkout_api.checkout.webhooks import WebhookService
from checkout_api.config import Settings
from checkout_api.gateway import StripeGateway
from checkout_api.store import migrate
from checkout_api.store.crypto import SecretBox
from checkout_api.store.db import create_engine
from checkout_api.store.fulfillments import FulfillmentRepository
from checkout_api.store.lifecycle import LifecycleStore
from checkout_api.store.sessions import SessionRepository
from checkout_api.store.sqlite_direct import SqliteDirect, database_file
from checkout_api.store.sqlite_lifecycle import SqliteLifecycleStore
from checkout_api.store.sqlite_sessions import SqliteSessionRepository

log = structlog.get_logger("checkout_api.app")
GC_YOUNG_THRESHOLD = 50_000


def build_services(settings: Settings) -> Services:
    engine = create_engine(settings.database_url)
    gateway = StripeGateway(settings)
    limits = RequestLimits(settings)
    background = BackgroundTasks()
    path = database_file(engine)
    direct = SqliteDirect(path) if path else None
    sessions = SqliteSessionRepository(engine, direct) if direct else SessionRepository(engine)
    checkout_service = CheckoutService(
        gateway=gateway,
        sessions=sessions,
        secrets=SecretBox.from_config(
            settings.data_encryption_key.get_secret_value()
            if settings.data_encryption_key
            else None,
            settings.stripe_secret_key.get_secret_value(),
        ),
        policy=CheckoutPolicy(
            mode=settings.checkout_mode,
            return_url=settings.checkout_return_url,
            reuse_min_remaining_seconds=settings.checkout_reuse_min_remaining_seconds,
            attempt_lease_seconds=settings.checkout_attempt_lease_seconds,
        ),
        background=background,
        new_session_guard=limits.check_new_session,
    )
    hook = fulfillment_hook(settings)
    worker = FulfillmentWorker(FulfillmentRepository(engine), hook) if hook else None
    lifecycle_store = (
        SqliteLifecycleStore(engine, direct, queue_fulfillment=worker is not None)
        if direct
        else LifecycleStore(engine, queue_fulfillment=worker is not None)
    )
    lifecycle = SessionLifecycle(
        lifecycle_store,
        on_fulfilled=worker.nudge if worker else _nothing,
    )
    return Services(
        settings=settings,
        engine=engine,
        gateway=gateway,
        checkout=checkout_service,
        status=StatusService(gateway=gateway, sessions=sessions, lifecycle=lifecycle),
        webhooks=WebhookService(
            lifecycle, settings.webhook_secrets, settings.stripe_webhook_tolerance_seconds
        ),
        fulfillment=worker,
        limits=limits,
        background=background,
        sqlite_direct=direct,
    )


def fulfillment_hook(settings: Settings) -> FulfillmentHook | None:
    if settings.fulfillment_hook:
        return load_callable(settings.fulfillment_hook)
    if settings.fulfillment_webhook_url and settings.fulfillment_webhook_secret:
        return HttpNotifier(
            settings.fulfillment_webhook_url,
            settings.fulfillment_webhook_secret.get_secret_value(),
        )
    return None


def _nothing() -> None:
    return None


def _drain_on_sigterm(services: Services) -> None:
    """Turn /readyz not-ready as soon as SIGTERM arrives, then let uvicorn drain as usual.

    uvicorn owns the signal handlers while it serves; we chain in front of its handler so
    that this works the same in a single process and in every `--workers` child.
    """
    previous = signal.getsignal(signal.SIGTERM)
    if not callable(previous):
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        services.draining = True
        previous(signum, frame)

    try:
        signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (an embedded or test server): nothing to chain
        pass


def _settle_garbage_collector() -> None:
    """Keep the collector off the latency tail (figures in docs/performance.md).

    Everything built at start-up lives as long as the process: frozen, full collections no
    longer walk it. A request allocates a few thousand short-lived objects, so the youngest
    generation is collected every 50 000 allocations instead of every 2 000.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.migrate_on_start:
            await asyncio.to_thread(migrate.upgrade, settings.database_url)
        services = build_services(settings)
        app.state.services = services
        _drain_on_sigterm(services)
        if services.fulfillment:
            services.fulfillment.start()
        _settle_garbage_collector()
        log.info("service.started", livemode=settings.livemode, mode=settings.checkout_mode)
        try:
            yield
        finally:
            services.draining = True
            if services.fulfillment:
                await services.fulfillment.stop()
            await services.background.drain(timeout=5.0)
            await services.gateway.close()
            await services.limits.close()
            if services.sqlite_direct:
                await services.sqlite_direct.close()
            await services.engine.dispose()
            metrics.process_stopped()
            log.info("service.stopped")

    app = FastAPI(
        title="checkout-api",
        version="0.1.0",
        summary="Creates Stripe Checkout Sessions for Embedded Checkout; verifies webhooks.",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
        # FastAPI's built-in OpenTelemetry would record exception messages and stack traces
        # past our redaction step; our own logs and metrics cover requests.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    problems.install(app)
    app.include_router(checkout.router)
    app.include_router(webhook.router)
    app.include_router(health.router)
    if settings.stripe_publishable_key:
        from checkout_api.web.pages import build_pages_router

        app.include_router(build_pages_router(settings.stripe_publishable_key))
    if settings.cors_allow_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_allow_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"],
            allow_credentials=False,
            max_age=600,
        )
    app.add_middleware(RequestContextMiddleware)
    return app
