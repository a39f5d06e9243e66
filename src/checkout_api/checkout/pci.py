"""Keep card data out: this service never receives card numbers (SAQ A).

Anything in a request that looks like a primary account number (13-19 digits, optionally
grouped by spaces or dashes, starting with a card network's leading digit 2-6, passing the
Luhn check) is refused before it is parsed or logged. The leading-digit rule keeps epoch
timestamps (which start with 1) in shop session ids from being mistaken for cards.
"""

from __future__ import annotations

import re

_CANDIDATE = re.compile(rb"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def contains_card_number(body: bytes) -> bool:
    for match in _CANDIDATE.finditer(body):
        digits = re.sub(rb"[ -]", b"", match.group()).decode()
        if 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_valid(digits):
            return True
    return False
