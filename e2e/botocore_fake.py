"""The real AWS client against our fake Bedrock: botocore (the service model the fake copies,
pinned by --version in the caller's venv) signs each request itself and parses each answer,
so a fake that only agreed with our own server would fail here. Checks Retrieve with a
managed search configuration and its nextToken, GetDocumentContent EXTRACTED and the
download of its presigned URL, and AgenticRetrieveStream as a binary event stream (botocore
checks the prelude and message CRCs and the event types of the model).

Usage: botocore_fake.py --hello JSON_LINE_OF_fake_upstreams [--label botocore-1.44.18]
Prints `PASS|FAIL <label>/<check> <detail>` lines; exits 1 if any check failed.
"""

import argparse
import json
import sys
import urllib.request

import botocore
import botocore.session
from botocore.config import Config

results = []
LABEL = "botocore"


def report(check, ok, detail=""):
    results.append(ok)
    word = "PASS" if ok else "FAIL"
    print(f"{word} {LABEL}/{check} {detail}".rstrip(), flush=True)


def checked(check, run):
    """Runs one check; any exception (the client refusing the fake's answer) is a FAIL."""
    try:
        ok, detail = run()
    except Exception as e:  # noqa: BLE001 - every refusal is the finding
        ok, detail = False, f"{type(e).__name__}: {e}"
    report(check, ok, detail)


def main():
    global LABEL
    parser = argparse.ArgumentParser()
    parser.add_argument("--hello", required=True)
    parser.add_argument("--label", default=f"botocore-{botocore.__version__}")
    args = parser.parse_args()
    LABEL = args.label
    hello = json.loads(args.hello)
    kb = hello["kb_id"]
    client = botocore.session.get_session().create_client(
        "bedrock-agent-runtime",
        region_name=hello["region"],
        endpoint_url=hello["bedrock_url"],
        aws_access_key_id=hello["access_key_id"],
        aws_secret_access_key=hello["secret_access_key"],
        config=Config(retries={"max_attempts": 1}),
    )
    query = "ferry timetable lighthouse travel handbook"

    def search(**more):
        return client.retrieve(
            knowledgeBaseId=kb,
            retrievalQuery={"text": query},
            retrievalConfiguration={"managedSearchConfiguration": {"numberOfResults": 1}},
            **more,
        )

    def retrieve_pages():
        first = search()
        token = first.get("nextToken")
        if not first["retrievalResults"] or not token:
            return False, f"page 1: {len(first['retrievalResults'])} result(s), nextToken {token!r}"
        second = search(nextToken=token)["retrievalResults"]
        moved = second and second[0]["location"] != first["retrievalResults"][0]["location"]
        return bool(moved), f"page 2 has {len(second)} other result(s)"

    def document_content():
        doc = hello["long_doc"]
        answer = client.get_document_content(
            knowledgeBaseId=kb,
            dataSourceId=doc["data_source_id"],
            documentId=doc["document_id"],
            outputFormat="EXTRACTED",
        )
        body = urllib.request.urlopen(answer["presignedUrl"], timeout=30).read()
        ok = answer["mimeType"] == "application/json" and len(body) == answer["documentContentLength"]
        return ok, f"{answer['mimeType']}, {len(body)} bytes downloaded of {answer['documentContentLength']}"

    def agentic():
        answer = client.agentic_retrieve_stream(
            retrievers=[{"configuration": {"knowledgeBase": {"knowledgeBaseId": kb}}}],
            messages=[{"role": "user", "content": {"text": hello["long_doc"]["query"]}}],
            agenticRetrieveConfiguration={},
            generateResponse=True,
        )
        stream = next(v for k, v in answer.items() if k != "ResponseMetadata")
        seen = {}
        for event in stream:
            for name in event:
                seen[name] = seen.get(name, 0) + 1
        ok = seen.get("traceEvent", 0) > 0 and seen.get("result", 0) > 0
        return ok, json.dumps(seen, sort_keys=True)

    checked("retrieve-next-page", retrieve_pages)
    checked("get-document-content-extracted", document_content)
    checked("agentic-retrieve-stream", agentic)
    failed = results.count(False)
    print(f"{LABEL}: {results.count(True)} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
