"""Baseline: Stripe's Embedded Checkout quickstart server (Python/Flask), as the samples write it.

It follows the quickstart's `server.py`: module-global `stripe.api_key`, a synchronous
`stripe.checkout.Session.create(ui_mode=..., line_items=[{price, quantity: 1}], mode='payment',
return_url=...)` per request and `jsonify(clientSecret=session.client_secret)`, served by
`app.run(port=4242)` (Werkzeug's development server, threaded by default) or `python3 -m flask
run --port=4242` as the samples' READMEs say. For the benchmark only:

- `stripe.api_base` points the SDK at the stand-in (STRIPE_API_BASE), as a test of such code
  would; the key, price and return URL come from the environment;
- the JSON body's `session_id` is sent as `client_reference_id`;
- the quickstart's `except Exception as e: return str(e)` answers 200; here the same text is
  answered with 500 so that the load generator counts failures;
- `/webhook` follows Stripe's webhook sample (`stripe.Webhook.construct_event` over the raw
  body, 400 on a bad payload or signature, `jsonify(success=True)`), which the quickstart lacks;
- `/healthz` answers 200 for the harness's readiness poll.

Run: `python bench/baselines/quickstart_flask.py --port 4242` (dev server), or under gunicorn:
`gunicorn --chdir bench/baselines -w 2 -k gthread --threads 32 quickstart_flask:app`.
"""

import os
import sys

import stripe
from flask import Flask, jsonify, request

stripe.api_key = os.environ.get("STRIPE_SECRET_KEY", "sk_test_bench")
stripe.api_base = os.environ.get("STRIPE_API_BASE", "https://api.stripe.com")
PRICE = os.environ.get("CHECKOUT_PRICE", "price_bench_1")
endpoint_secret = os.environ.get("STRIPE_WEBHOOK_SECRET", "whsec_bench")

app = Flask(__name__)

YOUR_DOMAIN = "http://127.0.0.1:4242"


@app.route("/create-checkout-session", methods=["POST"])
def create_checkout_session():
    body = request.get_json(silent=True) or {}
    try:
        session = stripe.checkout.Session.create(
            ui_mode="embedded_page",
            line_items=[{"price": PRICE, "quantity": 1}],
            mode="payment",
            return_url=YOUR_DOMAIN + "/return.html?session_id={CHECKOUT_SESSION_ID}",
            client_reference_id=body.get("session_id"),
        )
    except Exception as e:
        return str(e), 500

    return jsonify(clientSecret=session.client_secret)


@app.route("/session-status", methods=["GET"])
def session_status():
    session = stripe.checkout.Session.retrieve(request.args.get("session_id"))
    return jsonify(status=session.status, customer_email=session.customer_email)


@app.route("/webhook", methods=["POST"])
def webhook():
    payload = request.data
    sig_header = request.headers.get("Stripe-Signature", "")
    try:
        event = stripe.Webhook.construct_event(payload, sig_header, endpoint_secret)
    except ValueError:
        return "Invalid payload", 400
    except stripe.SignatureVerificationError:
        return "Invalid signature", 400

    if event["type"] == "checkout.session.completed":
        session = event["data"]["object"]  # the quickstart would fulfil the order here
        del session
    return jsonify(success=True)


@app.route("/healthz", methods=["GET"])
def healthz():
    return "ok"


if __name__ == "__main__":
    port = int(sys.argv[sys.argv.index("--port") + 1]) if "--port" in sys.argv else 4242
    app.run(port=port)
