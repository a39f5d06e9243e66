"""Stripe's form encoding: `line_items[0][price]=x&metadata[k]=v&expand[]=y` into dicts and lists.

A bracket segment that is a number (or empty, meaning "append") makes a list; any other
segment makes a dict. Mixing the two shapes for one key is an error, as on Stripe.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

_SEGMENT = re.compile(r"\[([^\[\]]*)\]")


class FormError(ValueError):
    """The body could not be read as Stripe form parameters; `param` names the culprit."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param
        self.message = message


def parse_form(text: str) -> dict[str, Any]:
    """Parse an `application/x-www-form-urlencoded` string into nested dicts and lists."""
    root: dict[str, Any] = {}
    nested = False
    for key, value in parse_qsl(text, keep_blank_values=True):
        bracket = key.find("[")
        if bracket <= 0:
            root[key] = value
            continue
        nested = True
        segments = [key[:bracket], *_SEGMENT.findall(key, bracket)]
        node = root
        for depth, segment in enumerate(segments[:-1]):
            if segment == "":
                segment = str(len(node))
            child = node.get(segment)
            if child is None:
                child = node[segment] = {}
            elif not isinstance(child, dict):
                raise FormError(_name(segments[: depth + 1]), f"Invalid hash: {key}")
            node = child
        last = segments[-1]
        if last == "":
            last = str(len(node))
        if isinstance(node.get(last), dict):
            raise FormError(key, f"Invalid string: {key}")
        node[last] = value
    if nested:
        for key, value in root.items():
            if isinstance(value, dict):
                root[key] = _listify(value)
    return root


def _name(segments: list[str]) -> str:
    return segments[0] + "".join(f"[{s}]" for s in segments[1:])


def _listify(node: dict[str, Any]) -> Any:
    for key, value in node.items():
        if isinstance(value, dict):
            node[key] = _listify(value)
    if node and all(k.isdigit() for k in node):
        return [node[k] for k in sorted(node, key=int)]
    return node
