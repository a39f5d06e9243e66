"""The checkout domain: the rules for sessions, status and fulfillment. No HTTP, no SQL here."""
