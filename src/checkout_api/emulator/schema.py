"""Which request parameters exist, derived once at import from the stripe SDK's typed params.

`stripe.params.checkout.SessionCreateParams` and the TypedDicts it references become a tree of
`Field`s (minus the SDK's RequestOptions keys). `check` walks a parsed request against that tree
and raises Stripe's errors: unknown parameter, wrong shape, bad integer/boolean, bad enum value.
`ui_mode` is checked apart, because its values depend on the Stripe-Version header.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ForwardRef, Literal, Union, get_args, get_origin

import stripe
from stripe._request_options import RequestOptions
from stripe.params.checkout import (
    SessionCreateParams,
    SessionExpireParams,
    SessionListLineItemsParams,
    SessionRetrieveParams,
)
from typing_extensions import is_typeddict

from checkout_api.emulator.errors import invalid, invalid_enum, unknown_parameter

DEFAULT_API_VERSION: str = stripe.api_version
RENAMED_UI_MODES_SINCE = "2026-03-25"
UI_MODES_NEW = ("embedded_page", "hosted_page", "elements", "form")
UI_MODES_OLD = ("embedded", "hosted", "custom")
_OPTION_KEYS = frozenset(RequestOptions.__annotations__)
METADATA_MAX_KEYS, METADATA_KEY_MAX, METADATA_VALUE_MAX = 50, 40, 500
_LITERAL = re.compile(r"'((?:[^'\\]|\\.)*)'")


@dataclass(frozen=True, slots=True)
class Field:
    kind: str  # "scalar" | "object" | "array" | "map"
    fields: Mapping[str, Field] | None = None
    item: Field | None = None
    types: frozenset[str] = frozenset({"str"})
    enum: tuple[str, ...] | None = None
    emptyable: bool = False


def ui_modes(api_version: str) -> tuple[str, ...]:
    """The ui_mode values a request made with `api_version` accepts."""
    return UI_MODES_NEW if api_version[:10] >= RENAMED_UI_MODES_SINCE else UI_MODES_OLD


def _text(annotation: Any) -> str:
    if isinstance(annotation, ForwardRef):
        return annotation.__forward_arg__
    if isinstance(annotation, str):
        return annotation
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return "Literal[" + ", ".join(repr(a) for a in args) + "]"
    if origin is Union:
        return "|".join(_text(a) for a in args)
    if origin is list:
        return f"List[{_text(args[0])}]"
    if origin is dict:
        return "Dict[str, str]"
    if args and getattr(origin, "_name", None) in ("NotRequired", "Required"):
        return _text(args[0])
    if isinstance(annotation, type):
        return annotation.__name__
    return repr(annotation)


def _split(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts


def _field(text: str, namespace: dict[str, Any], memo: dict[type, Mapping[str, Field]]) -> Field:
    literals: list[str] = []
    types: set[str] = set()
    obj: type | None = None
    item: Field | None = None
    is_map = False
    for alt in _split(text):
        target = namespace.get(alt)
        if alt.startswith("Literal["):
            literals += _LITERAL.findall(alt)
        elif alt.startswith("List["):
            item = _field(alt[5:-1], namespace, memo)
        elif alt.startswith(("Dict[", "UntypedStripeObject[")):
            is_map = True
        elif alt in ("int", "bool"):
            types.add(alt)
        elif alt in ("float", "Decimal"):
            types.add("number")
        elif target is not None and is_typeddict(target):
            obj = target
        else:
            types.add("str")
    emptyable = "" in literals
    if obj is not None:
        return Field("object", fields=_fields(obj, memo), emptyable=emptyable)
    if item is not None:
        return Field("array", item=item, emptyable=emptyable)
    if is_map:
        return Field("map", emptyable=True)
    enum = tuple(v for v in literals if v) or None
    return Field("scalar", types=frozenset(types or {"str"}), enum=enum, emptyable=emptyable)


def _fields(typed_dict: type, memo: dict[type, Mapping[str, Field]]) -> Mapping[str, Field]:
    if typed_dict in memo:
        return memo[typed_dict]
    namespace = vars(sys.modules[typed_dict.__module__])
    result: dict[str, Field] = {}
    memo[typed_dict] = result  # filled in place, so self-references terminate
    for name, annotation in typed_dict.__annotations__.items():
        if name not in _OPTION_KEYS:
            result[name] = _field(_text(annotation), namespace, memo)
    return result


_MEMO: dict[type, Mapping[str, Field]] = {}
_CREATE = dict(_fields(SessionCreateParams, _MEMO))
# ui_mode's values depend on the API version: drop the SDK's enum, sessions.py checks it.
_CREATE["ui_mode"] = Field("scalar")
CREATE_FIELDS: Mapping[str, Field] = _CREATE
LINE_ITEM_FIELDS: Mapping[str, Field] = _CREATE["line_items"].item.fields or {}  # type: ignore[union-attr]
RETRIEVE_FIELDS: Mapping[str, Field] = _fields(SessionRetrieveParams, _MEMO)
EXPIRE_FIELDS: Mapping[str, Field] = _fields(SessionExpireParams, _MEMO)
LIST_LINE_ITEMS_FIELDS: Mapping[str, Field] = _fields(SessionListLineItemsParams, _MEMO)
MODES: tuple[str, ...] = _CREATE["mode"].enum or ("payment", "setup", "subscription")


def check(params: Mapping[str, Any], fields: Mapping[str, Field], path: str | None = None) -> None:
    """Raise the StripeError Stripe would answer for the first parameter that does not fit."""
    for key, value in params.items():
        name = key if path is None else f"{path}[{key}]"
        spec = fields.get(key)
        if spec is None:
            raise unknown_parameter(name)
        _check_value(value, spec, name)


def _check_value(value: Any, spec: Field, name: str) -> None:
    if value == "" and (spec.emptyable or spec.kind != "scalar"):
        return
    if spec.kind == "object":
        if not isinstance(value, dict):
            raise invalid(name, f"Invalid object: {name}")
        check(value, spec.fields or {}, name)
    elif spec.kind == "array":
        if not isinstance(value, list):
            raise invalid(name, f"Invalid array: {name}")
        assert spec.item is not None
        for index, element in enumerate(value):
            _check_value(element, spec.item, f"{name}[{index}]")
    elif spec.kind == "map":
        if not isinstance(value, dict):
            raise invalid(name, f"Invalid object: {name}")
        for key, element in value.items():
            if not isinstance(element, str):
                raise invalid(f"{name}[{key}]", f"Invalid string: {name}[{key}]")
    else:
        _check_scalar(value, spec, name)


def _check_scalar(value: Any, spec: Field, name: str) -> None:
    if not isinstance(value, str):
        raise invalid(name, f"Invalid string: {name}")
    if spec.enum is not None and value in spec.enum:
        return
    if "str" in spec.types:
        if spec.enum is not None:
            raise invalid_enum(name, list(spec.enum))
        return
    if "int" in spec.types and _is_int(value):
        return
    if "bool" in spec.types and value in ("true", "false"):
        return
    if "number" in spec.types and _is_number(value):
        return
    kind = "integer" if "int" in spec.types else "boolean" if "bool" in spec.types else "decimal"
    raise invalid(name, f"Invalid {kind}: {value}")


def _is_int(value: str) -> bool:
    return value.lstrip("-").isdigit()


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def check_metadata(value: Any, param: str) -> dict[str, str]:
    if not value:
        return {}
    if len(value) > METADATA_MAX_KEYS:
        raise invalid(param, f"Invalid {param}: You can specify up to 50 metadata keys.")
    for key, text in value.items():
        if len(key) > METADATA_KEY_MAX:
            raise invalid(
                f"{param}[{key}]",
                f"Metadata keys can have up to 40 characters, but you passed in a key that is "
                f"{len(key)} characters. Invalid key: {key}",
            )
        if len(text) > METADATA_VALUE_MAX:
            raise invalid(
                f"{param}[{key}]",
                f"Metadata values can have up to 500 characters, but you passed in a value that "
                f"is {len(text)} characters. Invalid value: {text}",
            )
    return dict(value)
