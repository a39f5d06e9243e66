"""checkout-api: a production backend for Stripe Embedded Checkout."""

__version__ = "0.1.0"
