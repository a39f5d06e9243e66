"""Benchmark harness pieces: processes, wrk runs, scenarios, reports, Stripe-shaped objects."""
