"""What a person types (issue 13, item 7): text without control characters, dates in a sensible
range. Checked once for every route, so a new route or request model is covered without opting in.

Text. NUL and the other control characters (the C0 codes, DEL and the C1 codes:
``providers.limits.control_character``) cannot be typed, are never shown, and PostgreSQL cannot
store NUL in text at all; each is refused in every text field of a JSON body or a form post, and
in every query-string and path parameter of any request, with 422 naming the field
(``body.reason``, ``query.action``) and the character, never repeating the value. Tab, line
feed and carriage return are text in the free-text fields a person writes in a text box
(``MULTI_LINE_FIELDS``: reasons, descriptions, a scenario file) and refused in every other field:
an id, a name, a postcode or a password is one line, and a line break in one would let it forge
a line of a log or an export. Uploaded files are not text fields: the importers judge their cells
(providers.csvfiles). The check is an app-wide dependency (``refuse_control_characters``, wired in
api.app): it reads the body FastAPI has already parsed (Starlette keeps the parsed form and JSON
on the request), so nothing is parsed twice, and looks at the fields the route's body declares (a
key its model ignores is no field of it). The rule is written into the OpenAPI schema too, as a
pattern on each text field (``document_text_rules``). The pages answer a refused form with a page
(api.pages.core), the API with its error shape.

Dates. ``TypedDate`` is a date someone typed (a panel date, a start date): it must lie between
providers.limits.EARLIEST_DATE and LATEST_DATE (1950-2099), the bound the file importers use, so
9999 for "not known" or 1800 for 2018 is refused with 422 naming the field before any deadline or
age is worked out from it (a year like 9999 overflows the date arithmetic of matching).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, BaseModel, WithJsonSchema
from pydantic_core import PydanticCustomError

from providers.limits import EARLIEST_DATE, LATEST_DATE, control_character

CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")

# The fields a person writes in a text box, by name (in a JSON body or a form): the panel's and
# managers' reasons, a young person's wishes, a support-plan note, a forecast scenario's
# description and adjustments (one per line on the page), a tender scenario file (YAML, where a
# tab may sit inside a quoted value). Every other text field is one line.
MULTI_LINE_FIELDS = frozenset({"reason", "wishes", "note", "notes", "description", "adjustments",
                               "yaml", "scenario_yaml"})
LINE_BREAKS = re.compile(r"[\t\n\r]")
CHARACTER_NAMES = {"U+0000": "a NUL character (U+0000)", "U+0009": "a tab", "U+000A": "a line break",
                   "U+000D": "a line break (carriage return)"}


def text_problem(name: str | None, value: str) -> str | None:
    """Why ``value`` cannot be the text of the field ``name``, in plain words, or None."""
    if (found := control_character(value)) is not None:
        at, code = found
        what = CHARACTER_NAMES.get(code, f"the control character {code}")
        return (f"contains {what} at character {at + 1}, which cannot be typed or shown: remove it "
                "(retyping the text is simplest) and send again")
    if name not in MULTI_LINE_FIELDS and (line := LINE_BREAKS.search(value)) is not None:
        what = CHARACTER_NAMES[f"U+{ord(line.group()):04X}"]
        return f"is one line of text, but has {what} at character {line.start() + 1}: remove it and send again"
    return None


def _strings(value: Any, loc: tuple) -> Iterator[tuple[tuple, str]]:
    """Every string in a parsed JSON value, with where it is."""
    if isinstance(value, str):
        yield loc, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*loc, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, (*loc, i))


def _declared_strings(value: Any, annotation: Any, loc: tuple) -> Iterator[tuple[tuple, str]]:
    """The strings of a parsed body that are in fields its type declares: a key the model
    ignores is not one of its fields (the schema allows it, and nothing reads it). Where the type
    says nothing (``Any``, a free-form dict), every string counts."""
    origin, args = get_origin(annotation), get_args(annotation)
    if isinstance(value, str):
        yield loc, value
    elif origin is Annotated:
        yield from _declared_strings(value, args[0], loc)
    elif origin in (Union, UnionType):
        kinds = [a for a in args if a is not type(None)]
        fitting = [a for a in kinds if _fits(value, a)]
        yield from (_declared_strings(value, fitting[0], loc) if len(fitting) == 1 else _strings(value, loc))
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel) and isinstance(value, dict):
        names = {}
        for name, field in annotation.model_fields.items():
            names[field.alias or name] = field.annotation
        for key, item in value.items():
            if key in names:
                yield from _declared_strings(item, names[key], (*loc, key))
            elif annotation.model_config.get("extra") == "allow":
                yield from _strings(item, (*loc, key))
    elif isinstance(value, list) and origin in (list, set, frozenset, tuple):
        item_type = args[0] if args else Any
        for i, item in enumerate(value):
            yield from _declared_strings(item, item_type, (*loc, i))
    elif isinstance(value, dict) and origin is dict and len(args) == 2:
        for key, item in value.items():
            yield from _declared_strings(item, args[1], (*loc, key))
    elif isinstance(value, (dict, list)):
        yield from _strings(value, loc)


def _fits(value: Any, annotation: Any) -> bool:
    """Whether a union's member could be the one a value is read as (by its JSON kind)."""
    origin = get_origin(annotation) or annotation
    if origin is Annotated:
        return _fits(value, get_args(annotation)[0])
    if isinstance(value, dict):
        return origin is dict or (isinstance(origin, type) and issubclass(origin, BaseModel))
    if isinstance(value, list):
        return origin in (list, set, frozenset, tuple)
    return False


def _field_name(loc: tuple) -> str | None:
    """The field a string belongs to: the nearest name in its path (an item of a list of
    adjustments belongs to ``adjustments``)."""
    return next((part for part in reversed(loc) if isinstance(part, str) and part != "body"), None)


def _is_json(kind: str) -> bool:
    media = kind.split(";", 1)[0].strip()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


async def _text_fields(request: Request) -> list[tuple[tuple, str]]:
    """The text fields of the body the route declares (FastAPI's ``body_field``: the route's one
    model, or the model it makes of several body or form parameters), as FastAPI names them."""
    body_field = getattr(request.scope.get("route"), "body_field", None)
    if body_field is None:
        return []  # the route reads no body
    declared = body_field.field_info.annotation
    kind = request.headers.get("content-type", "").lower()
    if kind.startswith(FORMS):
        form = await request.form()  # the form FastAPI parsed for the route, kept on the request
        values: dict[str, list] = {}
        for name, value in form.multi_items():
            if isinstance(value, str):  # an uploaded file is judged by its importer, not here
                values.setdefault(name, []).append(value)
        fields = getattr(declared, "model_fields", {})
        return [(("body", name), text) for name, texts in values.items()
                if name in {f.alias or n for n, f in fields.items()} for text in texts]
    if kind and not _is_json(kind):
        return []  # not a body of text fields (FastAPI reads such a body as it is, or refuses it)
    if not await request.body():
        return []
    try:
        data = await request.json()  # FastAPI parsed it for the route already
    except ValueError:
        return []  # not JSON: FastAPI has refused it, or the route reads it as it is
    return list(_declared_strings(data, declared, ("body",)))


def _parameters(request: Request) -> list[tuple[tuple, str]]:
    """The query string's and the path's values, as FastAPI names them: a filter or an id is one
    line too, and a line break in one would reach a log line or a page's link."""
    return ([(("query", name), value) for name, value in request.query_params.multi_items()]
            + [(("path", name), str(value)) for name, value in request.path_params.items()])


async def refuse_control_characters(request: Request) -> None:
    """The app-wide dependency: 422 naming each text field or parameter that holds a control
    character (parameters on every request, body fields on those that change something)."""
    fields = _parameters(request)
    if request.method in CHANGES:
        fields += await _text_fields(request)
    problems = [{"type": "control_character", "loc": loc, "msg": why, "input": None}
                for loc, value in fields
                if (why := text_problem(None if loc[0] != "body" else _field_name(loc), value)) is not None]
    if problems:
        raise RequestValidationError(problems)


def is_text_refusal(exc: RequestValidationError) -> bool:
    return bool(exc.errors()) and all(e.get("type") == "control_character" for e in exc.errors())


# The same rule written into the OpenAPI schema, so that a client (or a fuzzer generating "valid"
# requests) can read it: every text field of a request body that has no pattern of its own gets
# one. (A field with a pattern, an id for one, already allows no control character; a file is
# not text.)
ONE_LINE_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"
MULTI_LINE_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"


def document_text_rules(schema: dict) -> dict:
    """Add the patterns to the text fields of every schema a request body uses, and to every
    text parameter (in place)."""
    components = schema.get("components", {}).get("schemas", {})
    bodies = [op["requestBody"] for ops in schema.get("paths", {}).values() for op in ops.values()
              if isinstance(op, dict) and "requestBody" in op]
    seen: set[str] = set()

    def visit(node: Any, name: str | None) -> None:
        if isinstance(node, list):
            for item in node:
                visit(item, name)
            return
        if not isinstance(node, dict):
            return
        if "$ref" in node:
            target = node["$ref"].rsplit("/", 1)[-1]
            if target in components and target not in seen:
                seen.add(target)
                visit(components[target], None)
            return
        if node.get("type") == "string" and not {"pattern", "format", "enum", "const", "contentMediaType"} & node.keys():
            node["pattern"] = MULTI_LINE_PATTERN if name in MULTI_LINE_FIELDS else ONE_LINE_PATTERN
        for key, value in node.items():
            if key == "properties":
                for field, sub in value.items():
                    visit(sub, field)
            elif key in ("items", "anyOf", "oneOf", "allOf", "additionalProperties", "content", "schema") or \
                    isinstance(value, dict) and key not in ("examples", "example", "default"):
                visit(value, name)

    visit(bodies, None)
    for ops in schema.get("paths", {}).values():  # query and path parameters: one line each
        for op in ops.values():
            for parameter in op.get("parameters", []) if isinstance(op, dict) else []:
                visit(parameter.get("schema", {}), parameter.get("name"))
    return schema


# --- dates -----------------------------------------------------------------------------------

DATE_RANGE = f"between {EARLIEST_DATE:%d/%m/%Y} and {LATEST_DATE:%d/%m/%Y}"


def _sensible(value: dt.date) -> dt.date:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise PydanticCustomError(
            "date_out_of_range", "{date} is not a plausible date: dates must be " + DATE_RANGE,
            {"date": value.isoformat()})
    return value


# The range is documented in the schema too (a pattern on the year: JSON Schema has no minimum
# for a date), so a client, or a fuzzer generating "valid" requests, knows 9999 is not one.
TypedDate = Annotated[dt.date, AfterValidator(_sensible), WithJsonSchema(
    {"type": "string", "format": "date", "pattern": r"^(19[5-9]\d|20\d\d)-\d\d-\d\d$",
     "description": f"A date {DATE_RANGE}"})]
