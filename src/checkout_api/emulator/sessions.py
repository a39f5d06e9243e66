"""Checkout Sessions: Stripe's create rules, the session object, and its state changes.

A session is stored as the fields that differ from `_TEMPLATE` (shared, never mutated);
`session_object` merges the two for the wire. State changes replace top-level keys only.
"""

from __future__ import annotations

import time
from typing import Any

from checkout_api.emulator import pricing, schema
from checkout_api.emulator.errors import (
    StripeError,
    invalid,
    invalid_enum,
    missing_parameter,
)
from checkout_api.emulator.pricing import random_id
from checkout_api.emulator.state import SessionRecord

DAY = 24 * 3600
HOSTED = ("hosted", "hosted_page")

_TEMPLATE: dict[str, Any] = {
    "object": "checkout.session",
    "adaptive_pricing": {"enabled": False},
    "after_expiration": None,
    "allow_promotion_codes": None,
    "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
    "collected_information": None,
    "consent": None,
    "consent_collection": None,
    "currency_conversion": None,
    "custom_fields": [],
    "custom_text": {
        "after_submit": None,
        "shipping_address": None,
        "submit": None,
        "terms_of_service_acceptance": None,
    },
    "customer_account": None,
    "customer_details": None,
    "discounts": [],
    "integration_identifier": None,
    "invoice": None,
    "origin_context": None,
    "payment_intent": None,
    "payment_link": None,
    "payment_method_configuration_details": None,
    "payment_method_options": {"card": {"request_three_d_secure": "automatic"}},
    "payment_method_types": ["card"],
    "permissions": None,
    "phone_number_collection": {"enabled": False},
    "recovered_from": None,
    "saved_payment_method_options": None,
    "setup_intent": None,
    "shipping_address_collection": None,
    "shipping_cost": None,
    "shipping_options": [],
    "subscription": None,
    "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
    "wallet_options": None,
}
_INVOICE_CREATION_OFF = {
    "enabled": False,
    "invoice_data": {
        "account_tax_ids": None,
        "custom_fields": None,
        "description": None,
        "footer": None,
        "issuer": None,
        "metadata": {},
        "rendering_options": None,
    },
}
_PASSTHROUGH = (
    "billing_address_collection",
    "client_reference_id",
    "customer",
    "customer_email",
    "locale",
    "submit_type",
)


def session_object(record: SessionRecord) -> dict[str, Any]:
    return _TEMPLATE | record.fields


def create(
    params: dict[str, Any], *, prices: dict[str, dict[str, Any]], api_version: str, livemode: bool
) -> SessionRecord:
    """Validate `params` as Stripe does and build a new open session (or raise StripeError)."""
    schema.check(params, schema.CREATE_FIELDS)
    mode = params.get("mode")
    if not mode:
        raise missing_parameter("mode")
    allowed_ui = schema.ui_modes(api_version)
    ui_mode = params.get("ui_mode") or allowed_ui[1]  # hosted_page / hosted by default
    if ui_mode not in allowed_ui:
        raise invalid_enum("ui_mode", list(allowed_ui))
    redirect = _check_urls(params, ui_mode)
    if params.get("customer") and params.get("customer_email"):
        raise invalid(
            "customer_email",
            "You may only specify one of these parameters: customer, customer_email.",
        )
    reference = params.get("client_reference_id")
    if reference is not None and len(reference) > 200:
        raise invalid("client_reference_id", "Invalid string: must be at most 200 characters")
    metadata = schema.check_metadata(params.get("metadata"), "metadata")
    now = int(time.time())
    expires_at = _expires_at(params.get("expires_at"), now)
    items, currency, amount = pricing.line_items(params.get("line_items"), mode, prices)
    if mode == "setup":
        currency = params.get("currency") or None
    session_id = random_id(("cs_live_" if livemode else "cs_test_") + "a1", 56)
    fields: dict[str, Any] = {key: params.get(key) for key in _PASSTHROUGH}
    fields.update(
        id=session_id,
        amount_subtotal=amount,
        amount_total=amount,
        cancel_url=params.get("cancel_url"),
        client_secret=None if ui_mode in HOSTED else random_id(session_id + "_secret_"),
        created=now,
        currency=currency,
        customer_creation=params.get("customer_creation")
        or ("if_required" if mode == "payment" else None),
        expires_at=expires_at,
        invoice_creation=_INVOICE_CREATION_OFF if mode == "payment" else None,
        livemode=livemode,
        metadata=metadata,
        mode=mode,
        payment_method_collection=params.get("payment_method_collection")
        or ("always" if mode == "subscription" else None),
        payment_status="no_payment_required" if mode == "setup" else "unpaid",
        redirect_on_completion=redirect,
        return_url=params.get("return_url"),
        status="open",
        success_url=params.get("success_url"),
        ui_mode=ui_mode,
        url=f"https://checkout.stripe.com/c/pay/{session_id}" if ui_mode in HOSTED else None,
    )
    for index, item in enumerate(items):
        item["id"] = f"li_{session_id[8:32]}{index}"
    return SessionRecord(fields, items, api_version)


def _check_urls(params: dict[str, Any], ui_mode: str) -> str | None:
    for name in ("success_url", "cancel_url", "return_url"):
        url = params.get(name)
        if url is not None and not url.startswith(("https://", "http://")):
            raise invalid(name, "Not a valid URL", "url_invalid")
    redirect = params.get("redirect_on_completion")
    if ui_mode in HOSTED:
        for name in ("return_url", "redirect_on_completion"):
            if params.get(name):
                raise invalid(name, f"You cannot pass `{name}` when `ui_mode` is `{ui_mode}`.")
        return None
    for name in ("success_url", "cancel_url"):
        if params.get(name):
            raise invalid(name, f"You cannot pass `{name}` when `ui_mode` is `{ui_mode}`.")
    redirect = redirect or "always"
    if redirect == "never" and params.get("return_url"):
        raise invalid(
            "return_url", "You cannot pass `return_url` when `redirect_on_completion` is `never`."
        )
    if redirect != "never" and not params.get("return_url"):
        raise invalid(
            "return_url",
            f"You must provide `return_url` when `ui_mode` is `{ui_mode}` and "
            f"`redirect_on_completion` is `{redirect}`.",
            "parameter_missing",
        )
    return redirect


def _expires_at(value: str | None, now: int) -> int:
    if value is None:
        return now + DAY
    expires_at = int(value)
    if expires_at < now + 1800 - 5:
        raise invalid(
            "expires_at",
            "The `expires_at` timestamp must be at least 30 minutes from Checkout Session "
            "creation.",
        )
    if expires_at > now + DAY + 5:
        raise invalid(
            "expires_at",
            "The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.",
        )
    return expires_at


def expire(record: SessionRecord) -> None:
    if record.fields["status"] != "open":
        raise StripeError(
            400,
            f'Only Checkout Sessions with a status in ["open"] can be expired. This Checkout '
            f'Session has a status of "{record.fields["status"]}".',
        )
    record.fields["status"] = "expired"


def complete(record: SessionRecord, *, email: str, payment_status: str) -> None:
    fields = record.fields
    if fields["status"] != "open":
        raise invalid(None, f"Session {fields['id']} is {fields['status']}, not open.")
    mode = fields["mode"]
    fields.update(
        status="complete",
        payment_status=payment_status,
        customer_email=email,
        customer_details={
            "address": None,
            "business_name": None,
            "email": email,
            "individual_name": None,
            "name": None,
            "phone": None,
            "tax_exempt": "none",
            "tax_ids": [],
        },
    )
    if mode == "payment":
        fields["payment_intent"] = random_id("pi_")
    elif mode == "subscription":
        fields["subscription"] = random_id("sub_")
        fields["customer"] = fields.get("customer") or random_id("cus_", 14)
    else:
        fields["setup_intent"] = random_id("seti_")


def settle_async_payment(record: SessionRecord, *, succeeded: bool) -> None:
    fields = record.fields
    if fields["status"] != "complete" or fields["payment_status"] != "unpaid":
        raise invalid(
            None,
            f"Session {fields['id']} has status {fields['status']} and payment_status "
            f"{fields['payment_status']}; an async payment settles only a complete, unpaid one.",
        )
    if succeeded:
        fields["payment_status"] = "paid"
