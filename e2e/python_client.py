#!/usr/bin/env python3
"""End-to-end check of bedrock-mcp with the official MCP Python SDK (package `mcp`).

Connects to a running server over Streamable HTTP ({url}/mcp: the initialize handshake,
and, when the SDK speaks it, the 2026-07-28 `server/discover` era) and over the legacy
HTTP+SSE transport ({url}/sse). On each leg: connect, list tools, search for a canned
document, search for a canned image (which must arrive as an ImageContent block whose data
base64-decodes to a PNG), open a result's original with get_document_link, ask for the
knowledge base info, and make one bad call. Prints one
`PASS|FAIL|SKIP python/<leg>/<check> <detail>` line per check and exits 1 if any failed.

Works with SDK 1.x (`streamablehttp_client`, camelCase fields) and 2.x
(`streamable_http_client`, snake_case fields). Talks only to the URL it is given.

Usage: python_client.py --url http://127.0.0.1:PORT --query "ferry timetable" \
           --expect "leaves pier nine" [--image-query "lighthouse sketch"]
"""

import argparse
import base64
import binascii
import sys
from contextlib import asynccontextmanager

import anyio
from mcp import ClientSession
from mcp.client.sse import sse_client

try:  # SDK 2.x
    from mcp.client.streamable_http import streamable_http_client as _http_client
except ImportError:  # SDK 1.x
    from mcp.client.streamable_http import streamablehttp_client as _http_client

TOOLS = {"search_knowledge_base", "get_knowledge_base_info"}
LEG_TIMEOUT_SECS = 60
results = []
LABEL = "python"


def report(leg, check, ok, detail=""):
    """Records and prints one check; `ok` is True, False or None (skipped)."""
    word = {True: "PASS", False: "FAIL", None: "SKIP"}[ok]
    results.append(ok)
    print(f"{word} {LABEL}/{leg}/{check} {detail}".rstrip(), flush=True)


def field(obj, snake, camel):
    """A result field under its 2.x (snake_case) or 1.x (camelCase) name."""
    if hasattr(obj, snake):
        return getattr(obj, snake)
    return getattr(obj, camel, None)


def text_of(result):
    return "\n".join(getattr(c, "text", "") or "" for c in result.content)


def short(text, n=160):
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


@asynccontextmanager
async def session_over(streams_cm):
    """A ClientSession over a transport context that yields 2 (2.x) or 3 (1.x) items."""
    async with streams_cm as streams:
        async with ClientSession(streams[0], streams[1]) as session:
            yield session


async def connect(leg, session, era):
    """Handshake; returns the negotiated protocol revision, or None when it failed."""
    try:
        if era == "discover":
            result = await session.discover()
            versions = field(result, "supported_versions", "supportedVersions") or []
            # The SDK adopts the newest revision both sides speak.
            version = getattr(session, "_negotiated_version", None) or max(versions)
            report(leg, "discover", True, f"supported {list(versions)}, using {version}")
        else:
            result = await session.initialize()
            version = field(result, "protocol_version", "protocolVersion")
            info = field(result, "server_info", "serverInfo")
            report(leg, "initialize", True, f"protocol {version}, server {getattr(info, 'name', '?')}")
        return version
    except Exception as e:  # noqa: BLE001 - any failure is the finding
        report(leg, era, False, f"{type(e).__name__}: {short(e)}")
        return None


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


async def image_check(leg, session, image_query):
    """An IMAGE result arrives as an ImageContent block the SDK parsed and base64 decodes."""
    try:
        found = await session.call_tool("search_knowledge_base", {"query": image_query, "max_results": 1})
        images = [c for c in found.content if getattr(c, "type", None) == "image"]
        if not images:
            report(leg, "image", False, f"no image block in {[getattr(c, 'type', '?') for c in found.content]}")
            return
        image = images[0]
        mime = field(image, "mime_type", "mimeType")
        data = base64.b64decode(image.data, validate=True)
        ok = mime == "image/png" and data.startswith(PNG_MAGIC)
        report(leg, "image", ok, f"mimeType={mime} bytes={len(data)}")
    except (binascii.Error, ValueError) as e:
        report(leg, "image", False, f"data does not base64-decode: {e}")
    except Exception as e:  # noqa: BLE001
        report(leg, "image", False, f"{type(e).__name__}: {short(e)}")


async def link_check(leg, session, structured):
    """get_document_link with the ids of the first search result gives an https URL."""
    results = (structured or {}).get("results") or [{}]
    doc, ds = results[0].get("documentId"), results[0].get("dataSourceId")
    if not (doc and ds):
        report(leg, "document-link", None, "the search result carries no documentId/dataSourceId")
        return
    try:
        linked = await session.call_tool("get_document_link", {"document_id": doc, "data_source_id": ds})
        text = text_of(linked)
        is_error = field(linked, "is_error", "isError")
        report(leg, "document-link", not is_error and "https://" in text, f"isError={is_error} text={short(text)!r}")
    except Exception as e:  # noqa: BLE001
        report(leg, "document-link", False, f"{type(e).__name__}: {short(e)}")


async def checks(leg, session, era, query, expect, image_query):
    version = await connect(leg, session, era)
    if version is None:
        return
    if era == "initialize":
        try:
            await session.send_ping()
            report(leg, "ping", True)
        except Exception as e:  # noqa: BLE001
            report(leg, "ping", False, f"{type(e).__name__}: {short(e)}")

    try:
        listed = await session.list_tools()
        names = {t.name for t in listed.tools}
        report(leg, "tools/list", TOOLS <= names, f"tools {sorted(names)}")
    except Exception as e:  # noqa: BLE001
        report(leg, "tools/list", False, f"{type(e).__name__}: {short(e)}")

    try:
        found = await session.call_tool("search_knowledge_base", {"query": query, "max_results": 3})
        text = text_of(found)
        is_error = field(found, "is_error", "isError")
        ok = not is_error and expect in text
        report(leg, "search", ok, f"isError={is_error} text={short(text)!r}")
        structured = field(found, "structured_content", "structuredContent")
        if version >= "2025-06-18":
            ok = bool(structured) and expect in str(structured)
            report(leg, "search-structured", ok, f"structuredContent={short(structured, 100)!r}")
            await link_check(leg, session, structured)
    except Exception as e:  # noqa: BLE001
        report(leg, "search", False, f"{type(e).__name__}: {short(e)}")

    await image_check(leg, session, image_query)

    try:
        info = await session.call_tool("get_knowledge_base_info", {})
        text = text_of(info)
        is_error = field(info, "is_error", "isError")
        ok = not is_error and "status" in text.lower()
        report(leg, "info", ok, f"isError={is_error} text={short(text)!r}")
    except Exception as e:  # noqa: BLE001
        report(leg, "info", False, f"{type(e).__name__}: {short(e)}")

    try:
        bad = await session.call_tool("search_knowledge_base", {"query": query, "max_results": 0})
        is_error = field(bad, "is_error", "isError")
        report(leg, "bad-call", is_error is True, f"isError={is_error} text={short(text_of(bad))!r}")
    except Exception as e:  # noqa: BLE001
        # Before 2025-11-25 a bad argument is a JSON-RPC -32602 error, which the SDK raises.
        error = getattr(e, "error", None)
        code = getattr(error, "code", None)
        report(leg, "bad-call", code == -32602, f"MCP error {code}: {short(e)}")


async def run_leg(leg, cm_factory, era, query, expect, image_query):
    try:
        with anyio.fail_after(LEG_TIMEOUT_SECS):
            async with session_over(cm_factory()) as session:
                if era == "discover" and not hasattr(session, "discover"):
                    report(leg, "discover", None, "this SDK has no server/discover (1.x)")
                    return
                await checks(leg, session, era, query, expect, image_query)
    except TimeoutError:
        report(leg, "leg", False, f"did not finish within {LEG_TIMEOUT_SECS} s")
    except Exception as e:  # noqa: BLE001 - connection or teardown failures
        report(leg, "leg", False, f"{type(e).__name__}: {short(e)}")


async def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="server base URL, e.g. http://127.0.0.1:8000")
    parser.add_argument("--query", required=True, help="a query that matches a known document")
    parser.add_argument("--expect", required=True, help="text that document's passage contains")
    parser.add_argument("--image-query", default="lighthouse sketch",
                        help="a query that matches a known IMAGE result")
    parser.add_argument("--label", default="python", help="prefix of the check names")
    args = parser.parse_args()
    global LABEL
    LABEL = args.label
    base = args.url.rstrip("/")
    legs = [
        ("http", lambda: _http_client(f"{base}/mcp"), "initialize"),
        ("http-2026-07-28", lambda: _http_client(f"{base}/mcp"), "discover"),
        ("sse", lambda: sse_client(f"{base}/sse"), "initialize"),
    ]
    for leg, factory, era in legs:
        await run_leg(leg, factory, era, args.query, args.expect, args.image_query)
    failed = results.count(False)
    print(f"{LABEL}: {results.count(True)} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(anyio.run(main))
