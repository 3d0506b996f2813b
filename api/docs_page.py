"""`/docs`: the OpenAPI document as one self-contained HTML page (no scripts, no CDN).

Rendered on the server from the document itself, so it works offline and under a strict
Content-Security-Policy; every text from the document is HTML-escaped.
"""

from __future__ import annotations

import base64
import hashlib
import json
from html import escape
from typing import Any

_STYLE = ("body{font:15px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
          "code,pre{font:13px ui-monospace,monospace}pre{background:#f5f5f5;padding:.6rem;overflow:auto}"
          "h3{margin-top:2rem;border-top:1px solid #ddd;padding-top:1rem}.m{font-weight:700;text-transform:uppercase}"
          "table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left}")
CSP = (f"default-src 'none'; style-src 'sha256-{base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()}'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")


def _schema_name(schema: dict[str, Any] | None) -> str:
    if not schema:
        return ""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f'<a href="#schema-{escape(name)}">{escape(name)}</a>'
    if "oneOf" in schema:
        return " | ".join(_schema_name(s) for s in schema["oneOf"])
    return f"<code>{escape(json.dumps(schema))}</code>"


def _operation(path: str, method: str, op: dict[str, Any]) -> str:
    rows = "".join(f"<tr><td><code>{escape(p['name'])}</code></td><td>{escape(p['in'])}</td>"
                   f"<td>{escape(p.get('description', ''))}</td></tr>" for p in op.get("parameters", []))
    responses = "".join(
        f"<tr><td>{escape(code)}</td><td>{escape(r.get('description', ''))}</td><td>"
        + "<br>".join(f"{escape(t)}: {_schema_name(c.get('schema'))}" for t, c in (r.get("content") or {}).items())
        + "</td></tr>" for code, r in op["responses"].items())
    request = "".join(f"<p>Body {escape(t)}: {_schema_name(c.get('schema'))}</p>"
                      for t, c in (op.get("requestBody") or {}).get("content", {}).items())
    scope = op.get("x-required-scope")
    auth = "no key" if op.get("security") == [] else f"key with scope <code>{escape(scope)}</code>" if scope else "key"
    return (f'<h3 id="op-{escape(op["operationId"])}"><span class="m">{escape(method)}</span> <code>{escape(path)}</code></h3>'
            f"<p>{escape(op.get('description', ''))}</p><p>Needs: {auth}</p>"
            + (f"<table><tr><th>parameter</th><th>in</th><th></th></tr>{rows}</table>" if rows else "")
            + request + f"<table><tr><th>status</th><th></th><th>body</th></tr>{responses}</table>")


def docs_page(document: dict[str, Any], openapi_url: str) -> str:
    info = document["info"]
    ops = "".join(_operation(path, method, op) for path, item in document["paths"].items()
                  for method, op in item.items())
    schemas = "".join(f'<h3 id="schema-{escape(name)}">{escape(name)}</h3><pre>{escape(json.dumps(s, indent=2))}</pre>'
                      for name, s in document["components"]["schemas"].items())
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(info["title"])}</title>'
            f"<style>{_STYLE}</style></head><body><h1>{escape(info['title'])} {escape(info['version'])}</h1>"
            f'<p>Send <code>Authorization: API-KEY &lt;token&gt;</code> or <code>Authorization: Bearer &lt;token&gt;</code>. '
            f'Machine-readable: <a href="{escape(openapi_url)}">openapi.json</a> (OpenAPI {escape(document["openapi"])}).</p>'
            f"<h2>Operations</h2>{ops}<h2>Schemas</h2>{schemas}</body></html>")
