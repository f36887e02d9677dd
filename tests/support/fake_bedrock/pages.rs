//! Retrieve's `nextToken` in the fake: an answer carries one when more results exist, and
//! a request may send it back for the next page. A token is bound to the knowledge base,
//! the query text, the filter and the user it was issued for: sent with any other request
//! it is a 400 ValidationException, as is a token the fake never issued.

use super::super::fake_server::Reply;
use super::answers::error;
use base64::Engine;
use serde_json::{json, Value};

fn binding(kb_id: &str, request: &Value, user: Option<&str>) -> String {
    let text = request
        .pointer("/retrievalQuery/text")
        .and_then(Value::as_str)
        .unwrap_or("");
    let config = request.get("retrievalConfiguration");
    let filter = config
        .and_then(|c| {
            c.pointer("/vectorSearchConfiguration/filter")
                .or_else(|| c.pointer("/managedSearchConfiguration/filter"))
        })
        .map(Value::to_string)
        .unwrap_or_default();
    let material = format!("{kb_id}\n{text}\n{filter}\n{}", user.unwrap_or(""));
    let h = ring::digest::digest(&ring::digest::SHA256, material.as_bytes());
    h.as_ref()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn token(offset: usize, bound: &str) -> String {
    let raw = json!({"o": offset, "b": bound}).to_string();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

/// Where this page starts and the token for the next one: `total` hits, `n` per page.
pub(super) fn page(
    kb_id: &str,
    request: &Value,
    user: Option<&str>,
    total: usize,
    n: usize,
) -> Result<(usize, Option<String>), Reply> {
    let bound = binding(kb_id, request, user);
    let offset = match request.get("nextToken") {
        None => 0,
        Some(t) => {
            let Some(t) = t
                .as_str()
                .filter(|t| (1..=2048).contains(&t.len()) && !t.chars().any(char::is_whitespace))
            else {
                return Err(error(
                    400,
                    "ValidationException",
                    "1 validation error detected: Value at 'nextToken' failed to satisfy constraint: Member must satisfy regular expression pattern: ^\\S*$",
                ));
            };
            let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(t)
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
            match decoded {
                Some(d) if d["b"] == bound.as_str() => d["o"].as_u64().unwrap_or(0) as usize,
                Some(_) => {
                    return Err(error(
                        400,
                        "ValidationException",
                        "The nextToken does not belong to this request: send it with the same knowledge base, query and filter as the request that returned it",
                    ))
                }
                None => return Err(error(400, "ValidationException", "Invalid nextToken")),
            }
        }
    };
    let next = (offset + n < total).then(|| token(offset + n, &bound));
    Ok((offset, next))
}
