// A local stand-in for Stripe.js (Dahlia), served by the browser tests in place of
// https://js.stripe.com/dahlia/stripe.js. It implements only what the checkout page calls:
// Stripe(pk).createEmbeddedCheckoutPage({fetchClientSecret}) -> Promise<{mount, unmount, destroy}>.
// It records what it was given in window.__standin for the test to read.
"use strict";

(function () {
  function resolveTarget(target) {
    const element = typeof target === "string" ? document.querySelector(target) : target;
    if (!element) {
      throw new Error(`stand-in: mount target ${target} not found`);
    }
    return element;
  }

  window.Stripe = function Stripe(publishableKey) {
    if (typeof publishableKey !== "string" || !publishableKey.startsWith("pk_")) {
      throw new Error("stand-in: Stripe() needs a publishable key");
    }
    window.__standin = { publishableKey, clientSecret: null };
    return {
      initEmbeddedCheckout() {
        // As on the Dahlia train: the old name throws an IntegrationError.
        throw new Error("IntegrationError: initEmbeddedCheckout was renamed createEmbeddedCheckoutPage");
      },
      async createEmbeddedCheckoutPage(options) {
        if (!options || typeof options.fetchClientSecret !== "function") {
          throw new Error("stand-in: fetchClientSecret is required");
        }
        const clientSecret = await options.fetchClientSecret();
        if (typeof clientSecret !== "string" || !clientSecret.includes("_secret_")) {
          throw new Error(`stand-in: not a client secret: ${clientSecret}`);
        }
        window.__standin = { publishableKey, clientSecret };
        let placeholder = null;
        return {
          mount(target) {
            placeholder = document.createElement("div");
            placeholder.setAttribute("data-testid", "stripe-standin");
            placeholder.textContent = "Stripe form (stand-in)";
            // CSSOM, not a style attribute in markup: allowed under style-src 'self'.
            Object.assign(placeholder.style, {
              display: "grid",
              placeItems: "center",
              minHeight: "18rem",
              border: "2px dashed #a3acb9",
              borderRadius: "8px",
              color: "#4f566b",
              fontWeight: "600",
            });
            resolveTarget(target).appendChild(placeholder);
          },
          unmount() {
            if (placeholder) {
              placeholder.remove();
            }
          },
          destroy() {
            this.unmount();
          },
        };
      },
    };
  };
})();
