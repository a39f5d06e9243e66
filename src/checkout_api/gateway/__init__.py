"""The Stripe gateway: the only package that imports the `stripe` SDK for API calls."""

from checkout_api.gateway.client import StripeGateway
from checkout_api.gateway.deadline import Deadline
from checkout_api.gateway.models import CreateSessionRequest, StripeSession

__all__ = ["CreateSessionRequest", "Deadline", "StripeGateway", "StripeSession"]
