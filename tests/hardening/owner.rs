//! Legacy SSE session owners (issue 10, item 8): a session belongs to the `tid` + `oid` of the
//! token that opened it. A signed token with no `oid` whose `preferred_username` equals
//! Alice's oid can neither open a session nor post into Alice's; Alice's own posts still work.

use crate::support::auth::{assert_search_ok, bearer, call, search, start};
use crate::support::fake_entra::FakeEntra;
use crate::support::server::Server;
use crate::support::sse::SseStream;
use serde_json::{json, Value};

const ALICE_OID: &str = "11111111-0000-0000-0000-00000000a11c";

fn post(s: &Server, endpoint: &str, auth: &str, body: &Value) -> (u16, String) {
    let h = [
        ("Authorization", auth),
        ("Content-Type", "application/json"),
    ];
    let r = s.request("POST", endpoint, &h, &body.to_string());
    (r.status, r.body)
}

#[test]
fn a_token_without_oid_named_like_alices_oid_cannot_post_into_her_session() {
    let fake = FakeEntra::start();
    let s = start(&fake, &[]);
    let alice = bearer(&fake.token_with(json!({
        "oid": ALICE_OID, "preferred_username": "alice@contoso.example"
    })));
    let mallory = bearer(&fake.token_with(json!({"oid": null, "preferred_username": ALICE_OID})));
    // Mallory's token is valid: /mcp serves it, so what follows is about ownership alone.
    assert_search_ok(&call(&s, Some(&mallory), "mallory-mcp"));

    let mut stream = SseStream::open(&s.url, "/sse", &[("Authorization", &alice)]).unwrap();
    assert_eq!(stream.status(), 200, "{}", stream.head);
    let endpoint = stream.wait_for("endpoint").expect("endpoint event").data;
    let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize",
        "params":{"protocolVersion":"2024-11-05"}});
    assert_eq!(post(&s, &endpoint, &alice, &init).0, 202);
    let answer: Value = serde_json::from_str(&stream.wait_for("message").unwrap().data).unwrap();
    assert_eq!(answer["id"], 1, "{answer}");

    let (status, body) = post(&s, &endpoint, &mallory, &search(2));
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("oid"), "the refusal says why: {body}");

    assert_eq!(post(&s, &endpoint, &alice, &search(3)).0, 202);
    let answer: Value = serde_json::from_str(&stream.wait_for("message").unwrap().data).unwrap();
    assert_eq!(
        answer["id"], 3,
        "Mallory's message was never answered: {answer}"
    );
    assert_eq!(answer["result"]["isError"], false, "{answer}");

    // Nor can such a token own a session of its own.
    let refused = SseStream::open(&s.url, "/sse", &[("Authorization", &mallory)]).unwrap();
    assert_eq!(refused.status(), 403, "{}", refused.head);
}
