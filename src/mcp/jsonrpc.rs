//! JSON-RPC 2.0 wire types: parsing a message from a JSON value, and building replies.
//!
//! Protocol errors are data ([`RpcError`]: code, message, data), kept apart from Rust errors.
//! Replies are serialized once, here, into a [`Response`]: results are written straight from
//! whatever `Serialize` value the method produced, with no intermediate tree.
//! This module knows nothing of MCP methods or HTTP.

use serde::{Serialize, Serializer};
use serde_json::{json, Map, Value};

/// Invalid JSON was received.
pub const PARSE_ERROR: i64 = -32700;
/// The JSON sent is not a valid request object.
pub const INVALID_REQUEST: i64 = -32600;
/// The method does not exist or is not available.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// Invalid method parameters.
pub const INVALID_PARAMS: i64 = -32602;
/// Internal JSON-RPC error.
pub const INTERNAL_ERROR: i64 = -32603;
/// 2026-07-28: HTTP headers do not match the body, or required headers are missing.
pub const HEADER_MISMATCH: i64 = -32020;
/// 2026-07-28: the requested protocol version is not supported.
pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;

/// A request id: a string or an integer, never null (MCP forbids null ids).
#[derive(Debug, Clone, PartialEq)]
pub enum RequestId {
    /// A numeric id.
    Number(i64),
    /// A string id.
    String(String),
}

impl RequestId {
    /// The id as JSON, for echoing in the response.
    pub fn to_json(&self) -> Value {
        match self {
            RequestId::Number(n) => json!(n),
            RequestId::String(s) => json!(s),
        }
    }
}

impl Serialize for RequestId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            RequestId::Number(n) => s.serialize_i64(*n),
            RequestId::String(id) => s.serialize_str(id),
        }
    }
}

/// A JSON-RPC response, serialized: the wire text, and the error code when it is an error.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    json: String,
    error_code: Option<i64>,
}

impl Response {
    /// The response as JSON text.
    pub fn as_str(&self) -> &str {
        &self.json
    }

    /// The response as JSON text, without copying.
    pub fn into_string(self) -> String {
        self.json
    }

    /// The error code, when the response is an error.
    pub fn error_code(&self) -> Option<i64> {
        self.error_code
    }

    /// The response parsed back into a value, for tests that look inside it.
    #[cfg(test)]
    pub fn to_value(&self) -> Value {
        serde_json::from_str(&self.json).expect("a response is JSON")
    }
}

/// One incoming JSON-RPC message.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// A request: expects exactly one response.
    Request {
        /// The id to echo.
        id: RequestId,
        /// The method name.
        method: String,
        /// The params object (an empty object when absent).
        params: Map<String, Value>,
    },
    /// A notification: no response allowed.
    Notification {
        /// The method name.
        method: String,
        /// The params object (an empty object when absent).
        params: Map<String, Value>,
    },
    /// A response or error from the client (to a request we never send); accepted and ignored.
    Response,
}

/// A JSON-RPC error object, with the id to send it under (`None` → `null`).
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    /// The request id, when it could be read.
    pub id: Option<RequestId>,
    /// The error code.
    pub code: i64,
    /// A message that says what was wrong and what is allowed.
    pub message: String,
    /// Optional structured data.
    pub data: Option<Value>,
}

impl RpcError {
    /// An error without data.
    pub fn new(id: Option<RequestId>, code: i64, message: impl Into<String>) -> RpcError {
        RpcError {
            id,
            code,
            message: message.into(),
            data: None,
        }
    }

    /// Adds structured data.
    pub fn with_data(mut self, data: Value) -> RpcError {
        self.data = Some(data);
        self
    }

    /// The JSON-RPC error response object.
    pub fn to_json(&self) -> Value {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(data) = &self.data {
            error["data"] = data.clone();
        }
        json!({
            "jsonrpc": "2.0",
            "id": self.id.as_ref().map_or(Value::Null, RequestId::to_json),
            "error": error,
        })
    }
}

impl RpcError {
    /// The JSON-RPC error response, serialized.
    pub fn to_response(&self) -> Response {
        Response {
            json: self.to_json().to_string(),
            error_code: Some(self.code),
        }
    }
}

/// A successful JSON-RPC response, serialized straight from `result` into one buffer of
/// about `size_hint` bytes.
pub fn success<R: Serialize>(id: &RequestId, result: &R, size_hint: usize) -> Response {
    #[derive(Serialize)]
    struct Success<'a, R> {
        jsonrpc: &'static str,
        id: &'a RequestId,
        result: &'a R,
    }
    let mut json = Vec::with_capacity(size_hint + 64);
    let reply = Success {
        jsonrpc: "2.0",
        id,
        result,
    };
    match serde_json::to_writer(&mut json, &reply) {
        // serde_json writes only UTF-8.
        Ok(()) => Response {
            json: String::from_utf8(json).unwrap_or_default(),
            error_code: None,
        },
        // Only a failing `Serialize` impl gets here (ours do not fail); answer with an error
        // rather than a broken body.
        Err(e) => RpcError::new(
            Some(id.clone()),
            INTERNAL_ERROR,
            format!("Internal error: the result could not be serialized ({e}); retry, and report it if it persists"),
        )
        .to_response(),
    }
}

/// Parses one message (not a batch) from a JSON value.
pub fn parse_message(value: Value) -> Result<Message, RpcError> {
    let Value::Object(mut obj) = value else {
        return Err(RpcError::new(
            None,
            INVALID_REQUEST,
            "Invalid Request: a JSON-RPC message must be a JSON object",
        ));
    };
    // Read the id first so that later errors can carry it.
    let id = match obj.remove("id") {
        None => None,
        Some(raw) => Some(parse_id(raw)?),
    };
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(RpcError::new(
            id,
            INVALID_REQUEST,
            "Invalid Request: \"jsonrpc\" must be \"2.0\"",
        ));
    }
    let method = match obj.remove("method") {
        Some(Value::String(m)) => m,
        Some(_) => {
            return Err(RpcError::new(
                id,
                INVALID_REQUEST,
                "Invalid Request: \"method\" must be a string",
            ))
        }
        None if obj.contains_key("result") || obj.contains_key("error") => {
            return Ok(Message::Response)
        }
        None => {
            return Err(RpcError::new(
                id,
                INVALID_REQUEST,
                "Invalid Request: \"method\" is missing",
            ))
        }
    };
    let params = match obj.remove("params") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(p)) => p,
        Some(_) => {
            return Err(RpcError::new(
                id,
                INVALID_PARAMS,
                "Invalid params: \"params\" must be an object",
            ))
        }
    };
    Ok(match id {
        Some(id) => Message::Request { id, method, params },
        None => Message::Notification { method, params },
    })
}

fn parse_id(raw: Value) -> Result<RequestId, RpcError> {
    match raw {
        Value::String(s) => Ok(RequestId::String(s)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Ok(RequestId::Number(i)),
            None => Err(RpcError::new(
                None,
                INVALID_REQUEST,
                "Invalid Request: \"id\" must be a string or an integer",
            )),
        },
        _ => Err(RpcError::new(
            None,
            INVALID_REQUEST,
            "Invalid Request: \"id\" must be a string or an integer (null is not allowed)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Message, RpcError> {
        parse_message(serde_json::from_str(s).unwrap())
    }

    #[test]
    fn request_notification_and_response_are_told_apart() {
        assert!(matches!(
            parse(r#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#),
            Ok(Message::Request {
                id: RequestId::Number(7),
                ..
            })
        ));
        assert!(matches!(
            parse(r#"{"jsonrpc":"2.0","id":"a","method":"x","params":{"k":1}}"#),
            Ok(Message::Request { id: RequestId::String(_), ref params, .. }) if params.len() == 1
        ));
        assert!(matches!(
            parse(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#),
            Ok(Message::Notification { .. })
        ));
        assert_eq!(
            parse(r#"{"jsonrpc":"2.0","id":1,"result":{}}"#),
            Ok(Message::Response)
        );
    }

    #[test]
    fn bad_messages_get_errors_that_keep_the_id_when_readable() {
        let e = parse(r#"{"jsonrpc":"1.0","id":3,"method":"x"}"#).unwrap_err();
        assert_eq!(
            (e.code, e.id),
            (INVALID_REQUEST, Some(RequestId::Number(3)))
        );
        let e = parse(r#"{"jsonrpc":"2.0","id":null,"method":"x"}"#).unwrap_err();
        assert_eq!((e.code, e.id), (INVALID_REQUEST, None));
        let e = parse(r#"{"jsonrpc":"2.0","id":1.5,"method":"x"}"#).unwrap_err();
        assert_eq!(e.code, INVALID_REQUEST);
        let e = parse(r#"{"jsonrpc":"2.0","id":1,"method":5}"#).unwrap_err();
        assert_eq!(e.code, INVALID_REQUEST);
        let e = parse(r#"{"jsonrpc":"2.0","id":1,"method":"x","params":[1]}"#).unwrap_err();
        assert_eq!(e.code, INVALID_PARAMS);
        assert_eq!(parse("[]").unwrap_err().code, INVALID_REQUEST);
        assert_eq!(parse("\"x\"").unwrap_err().code, INVALID_REQUEST);
    }

    #[test]
    fn error_json_has_null_id_when_unknown_and_data_when_given() {
        let v = RpcError::new(None, PARSE_ERROR, "Parse error").to_json();
        assert_eq!(v["id"], Value::Null);
        assert_eq!(v["error"]["code"], PARSE_ERROR);
        let v = RpcError::new(
            Some(RequestId::Number(2)),
            UNSUPPORTED_PROTOCOL_VERSION,
            "x",
        )
        .with_data(json!({"supported": ["a"]}))
        .to_json();
        assert_eq!(v["id"], 2);
        assert_eq!(v["error"]["data"]["supported"][0], "a");
    }

    #[test]
    fn responses_are_serialized_once_with_the_id_echoed_and_the_error_code_kept() {
        let id = RequestId::String("a\"b\\é".into());
        let r = success(&id, &json!({"k": [1, "x"]}), 0);
        assert_eq!(
            r.to_value(),
            json!({"jsonrpc": "2.0", "id": "a\"b\\é", "result": {"k": [1, "x"]}})
        );
        assert_eq!(r.error_code(), None);
        let r = success(&RequestId::Number(-7), &json!({}), 4096);
        assert_eq!(r.into_string(), r#"{"jsonrpc":"2.0","id":-7,"result":{}}"#);
        let e = RpcError::new(Some(RequestId::Number(3)), METHOD_NOT_FOUND, "nope");
        let r = e.to_response();
        assert_eq!(r.error_code(), Some(METHOD_NOT_FOUND));
        assert_eq!(r.to_value(), e.to_json());
    }
}
