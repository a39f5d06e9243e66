// Return page: Stripe sends the customer here as /return?session_id=cs_... once Checkout ends.
// Asks GET /session-status for {id, status, payment_status, customer_email} and shows one state:
// complete (paid, or still processing), open (back to checkout), expired (start again) or error.
"use strict";

(function () {
  // The service accepts the same shape (api/schemas.py STRIPE_SESSION_ID_PATTERN).
  const SESSION_ID = /^cs_(test|live)_[A-Za-z0-9]{1,250}$/;

  const statusBox = document.getElementById("return-status");
  const statusText = document.getElementById("return-status-text");
  const spinner = statusBox.querySelector(".spinner");

  function show(state, announcement) {
    const section = document.getElementById(`state-${state}`);
    section.hidden = false;
    statusText.textContent = announcement;
    spinner.hidden = true;
    statusBox.classList.add("visually-hidden");
    section.querySelector("h1").focus();
  }

  function showError(title, detail, code) {
    document.getElementById("error-title").textContent = title;
    document.getElementById("error-detail").textContent = detail;
    const codeLine = document.getElementById("error-code");
    if (code) {
      const element = document.createElement("code");
      element.textContent = code;
      codeLine.append("Error code: ", element);
      codeLine.hidden = false;
    }
    show("error", title);
  }

  async function readJson(response) {
    try {
      return await response.json();
    } catch (_) {
      return null;
    }
  }

  async function initialize() {
    const sessionId = new URLSearchParams(window.location.search).get("session_id");
    if (!sessionId || !SESSION_ID.test(sessionId)) {
      showError(
        "This link is missing its order reference",
        "Open the link from your checkout again, or start a new checkout.",
      );
      return;
    }

    let response;
    try {
      response = await fetch(`/session-status?session_id=${encodeURIComponent(sessionId)}`, {
        headers: { Accept: "application/json, application/problem+json" },
        credentials: "same-origin",
      });
    } catch (_) {
      showError("We couldn't reach the server", "Check your internet connection and reload this page.");
      return;
    }
    const session = await readJson(response);
    if (!response.ok || !session) {
      showError(
        (session && session.title) || "We couldn't check your order",
        (session && session.detail) || `The server answered with status ${response.status}.`,
        session && session.code,
      );
      return;
    }

    const email = typeof session.customer_email === "string" ? session.customer_email : "";
    if (session.status === "complete") {
      const settled = session.payment_status !== "unpaid";
      const target = document.getElementById(settled ? "customer-email" : "processing-email");
      if (email) {
        target.textContent = email;
      }
      show(settled ? "complete" : "processing", settled ? "Payment received." : "Payment processing.");
    } else if (session.status === "open") {
      show("open", "Checkout not finished.");
    } else if (session.status === "expired") {
      show("expired", "Checkout expired.");
    } else {
      showError("We couldn't check your order", "The order is in an unexpected state.");
    }
  }

  initialize().catch(() => {
    showError("We couldn't check your order", "Something went wrong. Please reload this page.");
  });
})();
