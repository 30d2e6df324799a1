"""The AsyncAPI document as a page for people, rendered here as plain HTML: it needs no script and
nothing from the internet (AsyncAPI's own viewers load theirs from a CDN).

Channels list their messages; a message shows its summary, headers and payload model; a
model shows its fields, each type linking to the model it names.
"""

import json
from collections.abc import Mapping
from html import escape
from typing import Any, Final

_STYLE: Final = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; padding: 0 1rem; color: #222; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: .3rem; margin-top: 2.5rem; }
section { margin: 1.2rem 0; padding: .6rem 1rem; border-left: 4px solid #5a8; background: #f8faf9; }
table { border-collapse: collapse; margin: .5rem 0; }
td, th { border: 1px solid #ddd; padding: .25rem .6rem; text-align: left; vertical-align: top; }
code { background: #eee; padding: 0 .2rem; }
"""


def _anchor(kind: str, name: str) -> str:
    return f"{kind}-{name}"


def _link(kind: str, name: str) -> str:
    return f'<a href="#{escape(_anchor(kind, name))}"><code>{escape(name)}</code></a>'


def _type_of(schema: Mapping[str, Any]) -> str:
    """A field's type in a few words, as HTML: `string (date-time)`, `array of <Model>`, `A | null`."""
    if "$ref" in schema:
        return _link("schema", str(schema["$ref"]).rsplit("/", 1)[-1])
    for combinator in ("anyOf", "oneOf", "allOf"):
        if combinator in schema:
            return " | ".join(_type_of(part) for part in schema[combinator])
    if "const" in schema:
        return f"<code>{escape(json.dumps(schema['const']))}</code>"
    if "enum" in schema:
        return "one of " + ", ".join(f"<code>{escape(json.dumps(value))}</code>" for value in schema["enum"])
    kind = schema.get("type", "any")
    if kind == "array":
        return "array of " + _type_of(schema.get("items", {}))
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return "object of " + _type_of(schema["additionalProperties"])
    shown = escape(" | ".join(kind) if isinstance(kind, list) else str(kind))
    return shown + (f" ({escape(str(schema['format']))})" if "format" in schema else "")


def _fields(schema: Mapping[str, Any]) -> str:
    properties: Mapping[str, Any] = schema.get("properties", {})
    if not properties:
        return f"<p>{_type_of(schema)}</p>"
    required = set(schema.get("required", ()))
    rows = "".join(
        f"<tr><td><code>{escape(name)}</code></td><td>{_type_of(field)}</td>"
        f"<td>{'yes' if name in required else ''}</td><td>{escape(str(field.get('description', '')))}</td></tr>"
        for name, field in properties.items()
    )
    return f"<table><tr><th>field</th><th>type</th><th>required</th><th>description</th></tr>{rows}</table>"


def _channel(channel: Mapping[str, Any]) -> str:
    address = str(channel["address"])
    kafka = channel.get("bindings", {}).get("kafka", {})
    configuration = ", ".join(f"{key} {value}" for key, value in kafka.get("topicConfiguration", {}).items())
    messages = ", ".join(_link("message", name) for name in channel["messages"])
    return (
        f'<section id="{escape(_anchor("channel", address))}"><h3>{escape(address)}</h3>'
        f"<p>{escape(str(channel.get('description', '')))}</p>"
        f"<p>Kafka: {kafka.get('partitions', '?')} partitions; {escape(configuration)}</p>"
        f"<p>Messages: {messages}</p></section>"
    )


def _message(name: str, message: Mapping[str, Any]) -> str:
    return (
        f'<section id="{escape(_anchor("message", name))}"><h3>{escape(name)}</h3>'
        f"<p>{escape(str(message.get('summary', '')))}</p>"
        f"<p>Payload ({escape(str(message.get('contentType', '')))}): {_type_of(message['payload'])}</p>"
        f"<details><summary>Headers</summary>{_fields(message.get('headers', {}))}</details></section>"
    )


def _schema(name: str, schema: Mapping[str, Any]) -> str:
    description = escape(str(schema.get("description", "")))
    return (
        f'<section id="{escape(_anchor("schema", name))}"><h3>{escape(name)}</h3>'
        f"<p>{description}</p>{_fields(schema)}</section>"
    )


def render_asyncapi(document: Mapping[str, Any], document_url: str) -> str:
    """The page of `document` (an AsyncAPI 3.0 document), linking to its JSON at `document_url`."""
    info = document["info"]
    components = document["components"]
    title = escape(f"{info['title']} {info['version']}: events (AsyncAPI {document['asyncapi']})")
    channels = "".join(_channel(channel) for channel in document["channels"].values())
    messages = "".join(_message(name, message) for name, message in components["messages"].items())
    schemas = "".join(_schema(name, schema) for name, schema in components["schemas"].items())
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{_STYLE}</style></head><body><h1>{title}</h1><p>{escape(str(info.get('description', '')))}</p>"
        f'<p>The document itself: <a href="{escape(document_url)}">{escape(document_url)}</a></p>'
        f"<h2>Channels</h2>{channels}<h2>Messages</h2>{messages}<h2>Models</h2>{schemas}</body></html>"
    )
