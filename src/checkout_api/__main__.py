"""`python -m checkout_api` is the `checkout-api` command."""

from checkout_api.cli import main

main()
