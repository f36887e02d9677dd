#!/usr/bin/env python3
"""End-to-end check of issue 20 with the official MCP Python SDK (package `mcp`): a model's
client reads a long document page by page, and runs one agentic search with progress.

Over Streamable HTTP ({url}/mcp: the initialize handshake, and with SDK 2.x the 2026-07-28
`server/discover` era) and legacy HTTP+SSE ({url}/sse): find
the long document with search_knowledge_base, then call read_document page 1, 2, ... as each
page says, until the last. With structuredContent (2025-06-18 and later) the pages must
concatenate to exactly the document (its length and SHA-256 are given); on the legacy leg,
where only text blocks arrive, every approval reference of the document (`TRV-pp-kkk`) must
appear exactly once across the pages. Then agentic_search with a progress callback must
return results. Prints `PASS|FAIL|SKIP <label>/<leg>/<check> <detail>` lines; exits 1 if any
check failed. Talks only to the URL it is given.

Usage: python_reading.py --url http://127.0.0.1:PORT --query "travel handbook booking rules" \
           --chars 70254 --sha256 HEX --references 176 [--label python-2.3.0]
"""

import argparse
import hashlib
import re
import sys

import anyio
from mcp.client.sse import sse_client

# The shared helpers (report, field, text_of, short, session_over, the transports) and the
# results they record live in python_client.py beside this file.
import python_client as common
from python_client import _http_client, field, report, session_over, short, text_of

LEG_TIMEOUT_SECS = 120
MAX_PAGES = 40
REFERENCE = re.compile(r"TRV-\d\d-\d\d\d")


async def read_pages(leg, session, args):
    """Finds the long document and reads it to its end; reports the checks."""
    found = await session.call_tool("search_knowledge_base", {"query": args.query, "max_results": 3})
    shown = text_of(found)
    structured = field(found, "structured_content", "structuredContent")
    if structured:
        first = (structured.get("results") or [{}])[0]
        doc, ds = first.get("documentId"), first.get("dataSourceId")
    else:  # text only: the ids as the result text gives them
        m = re.search(r"document_id: (.+?) \| data_source_id: (\w+)", shown)
        doc, ds = (m.group(1), m.group(2)) if m else (None, None)
    hint = "read_document" in shown
    report(leg, "search-says-read_document", hint and bool(doc and ds), f"document_id={doc!r} data_source_id={ds!r}")
    if not (doc and ds):
        return
    texts, shown_pages, page = [], [], 1
    while True:
        if page > MAX_PAGES:
            report(leg, "read-pages", False, f"more than {MAX_PAGES} pages")
            return
        res = await session.call_tool("read_document", {"document_id": doc, "data_source_id": ds, "page": page})
        if field(res, "is_error", "isError"):
            report(leg, "read-pages", False, f"page {page}: {short(text_of(res))}")
            return
        sc = field(res, "structured_content", "structuredContent")
        body = text_of(res)
        shown_pages.append(body)
        if sc:
            texts.append(sc.get("text") or "")
            nxt = sc.get("nextPage")
        else:
            m = re.search(r"page=(\d+) to continue", body)
            nxt = int(m.group(1)) if m else None
            if nxt is None and "End of the document" not in body:
                report(leg, "read-pages", False, f"page {page} neither ends the document nor names the next")
                return
        if not nxt:
            break
        if nxt != page + 1:
            report(leg, "read-pages", False, f"page {page} points at page {nxt}")
            return
        page = nxt
    if texts and len(texts) == len(shown_pages):
        whole = "".join(texts)
        digest = hashlib.sha256(whole.encode("utf-8")).hexdigest()
        ok = digest == args.sha256 and len(whole) == args.chars and len(texts) >= 4
        report(leg, "read-pages", ok, f"{len(texts)} pages, {len(whole)} chars (want {args.chars}), sha256 match={digest == args.sha256}")
    else:
        refs = REFERENCE.findall("\n".join(shown_pages))
        ok = len(refs) == args.references and len(set(refs)) == len(refs) and len(shown_pages) >= 4
        report(leg, "read-pages-text", ok, f"{len(shown_pages)} pages, {len(refs)} references ({len(set(refs))} distinct, want {args.references})")


async def agentic(leg, session, args):
    """agentic_search with a progress callback returns results (and reports progress seen)."""
    seen = []

    async def on_progress(progress, total, message):
        seen.append((progress, message))

    try:
        res = await session.call_tool(
            "agentic_search",
            {"query": args.query, "generate_response": True},
            progress_callback=on_progress,
        )
    except TypeError:
        report(leg, "agentic", None, "this SDK's call_tool takes no progress_callback")
        return
    text = text_of(res)
    is_error = field(res, "is_error", "isError")
    ok = not is_error and "Travel handbook" in text and len(seen) >= 1
    report(leg, "agentic", ok, f"isError={is_error} progress={len(seen)} text={short(text)!r}")


async def run_leg(leg, factory, era, args):
    try:
        with anyio.fail_after(LEG_TIMEOUT_SECS):
            async with session_over(factory()) as session:
                if era == "discover":
                    if not hasattr(session, "discover"):
                        report(leg, "discover", None, "this SDK has no server/discover (1.x)")
                        return
                    result = await session.discover()
                    versions = field(result, "supported_versions", "supportedVersions") or []
                    report(leg, "discover", True, f"supported {list(versions)}")
                else:
                    await session.initialize()
                await read_pages(leg, session, args)
                await agentic(leg, session, args)
    except TimeoutError:
        report(leg, "leg", False, f"did not finish within {LEG_TIMEOUT_SECS} s")
    except Exception as e:  # noqa: BLE001 - any failure is the finding
        report(leg, "leg", False, f"{type(e).__name__}: {short(e)}")


async def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--query", required=True, help="finds the long document")
    parser.add_argument("--chars", type=int, required=True, help="the document's length in characters")
    parser.add_argument("--sha256", required=True, help="SHA-256 of the document's UTF-8 text")
    parser.add_argument("--references", type=int, required=True, help="TRV-pp-kkk references in it")
    parser.add_argument("--label", default="python")
    args = parser.parse_args()
    common.LABEL = args.label
    base = args.url.rstrip("/")
    legs = [
        ("http", lambda: _http_client(f"{base}/mcp"), "initialize"),
        ("http-2026-07-28", lambda: _http_client(f"{base}/mcp"), "discover"),
        ("sse", lambda: sse_client(f"{base}/sse"), "initialize"),
    ]
    for leg, factory, era in legs:
        await run_leg(leg, factory, era, args)
    failed = common.results.count(False)
    print(f"{common.LABEL}: {common.results.count(True)} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(anyio.run(main))
