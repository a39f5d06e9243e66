"""A cart: which allowlisted prices, how many of each. Amounts always come from Stripe."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from checkout_api.errors import RequestValidationFailed


@dataclass(frozen=True, slots=True)
class Cart:
    lines: tuple[tuple[str, int], ...]  # (price id, quantity), in the caller's order

    def fingerprint(self) -> str:
        """Order-independent digest of prices and quantities (no personal data in it)."""
        canonical = ";".join(f"{price}x{quantity}" for price, quantity in sorted(self.lines))
        return hashlib.sha256(canonical.encode()).hexdigest()


def build_cart(items: list[tuple[str, int]] | None, allowlist: list[str]) -> Cart:
    """Check the caller's items against the allowlist; default is one of the first price."""
    if not items:
        return Cart(lines=((allowlist[0], 1),))
    allowed = set(allowlist)
    problems = []
    seen: set[str] = set()
    for index, (price, _quantity) in enumerate(items):
        if price not in allowed:
            problems.append(
                {"field": f"items[{index}].price", "message": "is not an offered price"}
            )
        elif price in seen:
            problems.append({"field": f"items[{index}].price", "message": "appears twice"})
        seen.add(price)
    if problems:
        fields = ", ".join(problem["field"] for problem in problems)
        raise RequestValidationFailed(f"Invalid value for: {fields}.", extra={"errors": problems})
    return Cart(lines=tuple(items))
