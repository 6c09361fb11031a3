"""Every string a provider would read, found by walking the whole body, and written back masked.

A dialect does not list the fields that carry text (a list is always one field short:
``messages[].name``, ``user``, tool schemas, ``prediction``...). It describes its
*structure* instead, in a :class:`Shape`, and the walk guards everything else:

* every string value, except the ``structural`` ones (``model``, ``role``, ``type``: the
  dialect validates those, and masking them would break the request);
* every object key that is not one of the API's own field names (``vocabulary``): keys of
  tool arguments, schemas and metadata are the caller's text, and a field name of the API
  cannot be personal data;
* under a ``free_form`` key (``metadata``, tool ``parameters``...) nothing is structure:
  every value is guarded there;
* ``json_text`` values (tool-call ``arguments``: JSON inside a string) are parsed and walked
  like free-form objects, then re-serialised, so the provider receives exactly the document
  that was guarded (a duplicate key inside cannot hide a second value);
* ``data:`` URLs and base64 ``data`` with a text media type are decoded, guarded and
  re-encoded; binary payloads (images, audio) are not text and are left alone.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

import orjson

from gateway.dialects.fields import MAX_DEPTH
from gateway.errors import BadRequest

#: JSON Schema's keywords: tool schemas are full of them, and they are never personal data.
SCHEMA_WORDS = frozenset(
    [
        "properties",
        "items",
        "required",
        "enum",
        "const",
        "default",
        "title",
        "description",
        "type",
        "format",
        "pattern",
        "additionalProperties",
        "anyOf",
        "oneOf",
        "allOf",
        "not",
        "$ref",
        "$defs",
        "definitions",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "uniqueItems",
        "nullable",
        "examples",
        "strict",
    ]
)

_TEXT_MEDIA = ("text/", "application/json", "application/xml", "application/x-yaml", "application/csv")


@dataclass(frozen=True, slots=True)
class Shape:
    """A dialect's request structure, as the walk needs it (see the module docstring)."""

    vocabulary: frozenset[str]
    structural: frozenset[str] = frozenset({"model", "role", "type"})
    free_form: frozenset[str] = frozenset()
    json_text: frozenset[str] = frozenset()
    binary: frozenset[str] = frozenset()


@dataclass(slots=True)
class _JsonText:
    container: Any
    key: Any
    tree: Any


@dataclass(slots=True)
class TextSlots:
    """The texts of one body in walk order, and where each masked text goes back."""

    texts: list[str] = field(default_factory=list)
    _values: list[tuple[Any, Any, int]] = field(default_factory=list)  # (container, key, index)
    _keys: list[tuple[dict[str, Any], str, int]] = field(default_factory=list)
    _encoded: list[tuple[Any, Any, str, int]] = field(default_factory=list)  # + data-URL prefix
    _json: list[_JsonText] = field(default_factory=list)

    @property
    def rewrites(self) -> bool:
        """Whether write-back changes the body even when no text changed (JSON texts are
        always re-serialised, so what was guarded is what is sent)."""
        return bool(self._json)

    def value(self, container: Any, key: Any) -> None:
        self._values.append((container, key, len(self.texts)))
        self.texts.append(container[key])

    def key(self, container: dict[str, Any], key: str) -> None:
        self._keys.append((container, key, len(self.texts)))
        self.texts.append(key)

    def encoded(self, container: Any, key: Any, prefix: str, text: str) -> None:
        self._encoded.append((container, key, prefix, len(self.texts)))
        self.texts.append(text)

    def json_text(self, container: Any, key: Any, tree: Any) -> None:
        self._json.append(_JsonText(container, key, tree))

    def write_back(self, masked: list[str] | tuple[str, ...]) -> None:
        """Values first (their containers are addressed by the original keys), then keys,
        then the JSON texts, inner documents before the ones that hold them."""
        for container, key, index in self._values:
            container[key] = masked[index]
        for container, key, prefix, index in self._encoded:
            container[key] = prefix + base64.b64encode(masked[index].encode()).decode()
        _rename_keys(self._keys, masked)
        for doc in self._json:
            doc.container[doc.key] = orjson.dumps(doc.tree).decode()


def collect(body: Any, shape: Shape) -> TextSlots:
    slots = TextSlots()
    _Walk(slots, shape).node(body, free=False, depth=0)
    return slots


@dataclass(slots=True)
class _Walk:
    slots: TextSlots
    shape: Shape

    def node(self, node: Any, *, free: bool, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise BadRequest("request body is nested too deeply", reason="invalid_request")
        if isinstance(node, dict):
            self._object(node, free=free, depth=depth)
        elif isinstance(node, list):
            for index, item in enumerate(node):
                self._member(node, index, item, free=free, depth=depth)

    def _object(self, node: dict[str, Any], *, free: bool, depth: int) -> None:
        shape = self.shape
        media = node.get("media_type") if "data" in node else None
        for key, value in node.items():
            if key not in shape.vocabulary:
                self.slots.key(node, key)
            if isinstance(value, str):
                if not free and key in shape.structural:
                    continue
                if value.startswith("data:"):
                    self._data_url(node, key, value)
                    continue
                if key in shape.binary:
                    continue  # base64 audio, images: not text
                if key == "data" and isinstance(media, str) and node.get("type") == "base64":
                    self._base64(node, key, value, media)
                    continue
                if key in shape.json_text:
                    self._json_text(node, key, value, depth)
                    continue
            inner = free or key in shape.free_form or key not in shape.vocabulary
            self._member(node, key, value, free=inner, depth=depth)

    def _member(self, container: Any, key: Any, value: Any, *, free: bool, depth: int) -> None:
        if isinstance(value, str):
            if value.startswith("data:"):
                self._data_url(container, key, value)
            elif value:
                self.slots.value(container, key)
        elif isinstance(value, dict | list):
            self.node(value, free=free, depth=depth + 1)

    def _json_text(self, container: Any, key: Any, text: str, depth: int) -> None:
        try:
            tree = orjson.loads(text)
        except orjson.JSONDecodeError:
            tree = None
        if not isinstance(tree, dict | list):
            self._member(container, key, text, free=True, depth=depth)  # not JSON: plain text
            return
        self.node(tree, free=True, depth=depth + 1)
        self.slots.json_text(container, key, tree)  # after its insides: inner documents first

    def _data_url(self, container: Any, key: Any, url: str) -> None:
        header, comma, payload = url.partition(",")
        media = header[5:].split(";")[0].lower()
        if not comma or not media.startswith(_TEXT_MEDIA):
            return  # an image or other binary payload: not text
        if ";base64" in header.lower():
            self._base64(container, key, payload, media, prefix=header + ",")
        else:
            self.slots.value(container, key)  # percent-encoded text: guarded as it stands

    def _base64(self, container: Any, key: Any, payload: str, media: Any, prefix: str = "") -> None:
        if not (isinstance(media, str) and media.lower().startswith(_TEXT_MEDIA)):
            return  # binary
        try:
            text = base64.b64decode(payload, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise BadRequest(
                f"a {media} payload is not valid base64 UTF-8 text", reason="invalid_request"
            ) from exc
        self.slots.encoded(container, key, prefix, text)


def _rename_keys(keys: list[tuple[dict[str, Any], str, int]], masked: list[str] | tuple[str, ...]) -> None:
    renames: dict[int, tuple[dict[str, Any], dict[str, str]]] = {}
    for container, key, index in keys:
        if masked[index] != key:
            renames.setdefault(id(container), (container, {}))[1][key] = masked[index]
    for container, names in renames.values():
        items = list(container.items())
        container.clear()
        for key, value in items:
            new = names.get(key, key)
            while new in container:  # two keys masked alike (mask mode): keep both
                new += "_"
            container[new] = value
