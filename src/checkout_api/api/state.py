"""What the lifespan builds and the routes use, held on `app.state.services`."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncEngine

from checkout_api.api.limits import RequestLimits
from checkout_api.checkout.background import BackgroundTasks
from checkout_api.checkout.fulfillment import FulfillmentWorker
from checkout_api.checkout.service import CheckoutService
from checkout_api.checkout.status import StatusService
from checkout_api.checkout.webhooks import WebhookService
from checkout_api.config import Settings
from checkout_api.gateway import StripeGateway
from checkout_api.store.sqlite_direct import SqliteDirect


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    gateway: StripeGateway
    checkout: CheckoutService
    status: StatusService
    webhooks: WebhookService
    fulfillment: FulfillmentWorker | None
    limits: RequestLimits
    background: BackgroundTasks
    sqlite_direct: SqliteDirect | None = None
    draining: bool = False
    notes: dict[str, str] = field(default_factory=dict)


def services(request: Request) -> Services:
    result: Services = request.app.state.services
    return result
