// Checkout page: mounts Stripe Embedded Checkout (Stripe's quickstart client, cleaned up).
//
// The server writes the publishable key into <meta name="stripe-publishable-key">. Each visitor
// gets one opaque id (kept in localStorage) that the service uses to create or reuse their
// Checkout Session. Errors from POST /checkoutsession arrive as application/problem+json
// ({title, detail, code}) and are shown in an alert the user can act on.
"use strict";

(function () {
  const VISITOR_KEY = "checkout.visitorId";
  const VISITOR_ID = /^[A-Za-z0-9\-_.:]{1,200}$/;

  const statusBox = document.getElementById("checkout-status");
  const statusText = document.getElementById("checkout-status-text");
  const spinner = statusBox.querySelector(".spinner");
  const errorBox = document.getElementById("checkout-error");
  const container = document.getElementById("checkout");

  class CheckoutError extends Error {
    constructor(title, detail, code) {
      super(detail);
      this.title = title;
      this.detail = detail;
      this.code = code || null;
    }
  }

  function randomId() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    // randomUUID needs a secure context; getRandomValues does not.
    const bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function visitorId() {
    let id = null;
    try {
      id = window.localStorage.getItem(VISITOR_KEY);
    } catch (_) {
      // Storage can be blocked (privacy settings); a fresh id per page load still works.
    }
    if (id && VISITOR_ID.test(id)) {
      return id;
    }
    id = randomId();
    try {
      window.localStorage.setItem(VISITOR_KEY, id);
    } catch (_) {
      // See above.
    }
    return id;
  }

  async function readJson(response) {
    try {
      return await response.json();
    } catch (_) {
      return null;
    }
  }

  function problemFrom(body, status) {
    const title = body && typeof body.title === "string" ? body.title : "We couldn't start checkout";
    const detail =
      body && typeof body.detail === "string"
        ? body.detail
        : `The server answered with status ${status}. Please try again.`;
    const code = body && typeof body.code === "string" ? body.code : null;
    return new CheckoutError(title, detail, code);
  }

  function setStatus(text, { busy }) {
    statusText.textContent = text;
    spinner.hidden = !busy;
    statusBox.classList.toggle("visually-hidden", !busy);
    container.setAttribute("aria-busy", busy ? "true" : "false");
  }

  function showError(error) {
    const known = error instanceof CheckoutError;
    document.getElementById("checkout-error-title").textContent = known
      ? error.title
      : "We couldn't start checkout";
    document.getElementById("checkout-error-detail").textContent = known
      ? error.detail
      : "The payment form failed to load. Please try again.";
    const codeLine = document.getElementById("checkout-error-code");
    codeLine.textContent = "";
    if (known && error.code) {
      const code = document.createElement("code");
      code.textContent = error.code;
      codeLine.append("Error code: ", code);
    }
    codeLine.hidden = !(known && error.code);
    setStatus("Checkout could not be started.", { busy: false });
    errorBox.hidden = false;
    document.getElementById("checkout-error-title").focus();
  }

  async function fetchClientSecret() {
    let response;
    try {
      response = await fetch("/checkoutsession", {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json, application/problem+json",
        },
        body: JSON.stringify({ session_id: visitorId() }),
        credentials: "same-origin",
      });
    } catch (_) {
      throw new CheckoutError(
        "We couldn't reach the server",
        "Check your internet connection and try again.",
      );
    }
    const body = await readJson(response);
    if (!response.ok) {
      throw problemFrom(body, response.status);
    }
    // The quickstart's contract: the client secret is `clientSecret` in the JSON answer.
    const secret = body && (body.clientSecret || body.client_secret);
    if (typeof secret !== "string" || secret === "") {
      throw new CheckoutError(
        "We couldn't start checkout",
        "The server's answer had no checkout session. Please try again.",
      );
    }
    return secret;
  }

  let failed = false;

  async function fetchClientSecretOrShow() {
    try {
      return await fetchClientSecret();
    } catch (error) {
      // Show it here: Stripe.js may call this lazily, outside the promise awaited below.
      failed = true;
      showError(error);
      throw error;
    }
  }

  async function initialize() {
    const meta = document.querySelector('meta[name="stripe-publishable-key"]');
    const publishableKey = meta ? meta.content : "";
    if (typeof window.Stripe !== "function" || !publishableKey) {
      throw new CheckoutError(
        "The payment form didn't load",
        "Stripe's script could not be loaded. Check your connection or content blocker, then try again.",
      );
    }
    const stripe = window.Stripe(publishableKey);
    const checkout = await stripe.createEmbeddedCheckoutPage({
      fetchClientSecret: fetchClientSecretOrShow,
    });
    if (failed) {
      return;
    }
    checkout.mount("#checkout");
    setStatus("The secure payment form is ready.", { busy: false });
  }

  document.getElementById("checkout-retry").addEventListener("click", () => {
    window.location.reload();
  });

  initialize().catch((error) => {
    if (!failed) {
      showError(error);
    }
  });
})();
