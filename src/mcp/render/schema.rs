//! The `outputSchema` each tool declares on revisions that have one (2025-06-18+); the
//! `structuredContent` built in `render.rs` must match it.

use serde_json::{json, Value};

/// Where a result came from, as every tool's results carry it.
fn location_schema() -> Value {
    json!({
        "type": ["object", "null"],
        "properties": {
            "type": { "type": "string" },
            "uri": { "type": ["string", "null"] }
        }
    })
}

/// The `outputSchema` of the search tool.
pub fn search_output_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "query": { "type": "string" },
            "count": { "type": "integer" },
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "text": { "type": "string" },
                        "contentType": { "type": "string" },
                        "score": { "type": ["number", "null"] },
                        "location": location_schema(),
                        "metadata": { "type": "object" },
                        "documentId": { "type": "string" },
                        "dataSourceId": { "type": "string" },
                        "mediaId": { "type": "string" },
                        "mediaUri": { "type": "string" },
                        "image": {
                            "type": "object",
                            "properties": {
                                "mimeType": { "type": "string" },
                                "sizeBytes": { "type": "integer" },
                                "shown": { "type": "boolean" },
                                "caption": { "type": "string" }
                            },
                            "required": ["mimeType", "sizeBytes", "shown"]
                        }
                    },
                    "required": ["text", "contentType", "metadata"]
                }
            },
            "note": { "type": "string" },
            "guardrailAction": { "type": "string" },
            "moreAvailable": { "type": "boolean" },
            "nextPage": { "type": ["string", "null"] }
        },
        "required": ["query", "count", "results", "moreAvailable", "nextPage"]
    })
}

/// The `outputSchema` of read_document: a page of text, or (with `media_id`) an image.
pub fn read_output_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "documentId": { "type": "string" },
            "dataSourceId": { "type": "string" },
            "knowledgeBaseId": { "type": "string" },
            "page": { "type": "integer" },
            "pages": { "type": "integer" },
            "startChar": { "type": "integer" },
            "endChar": { "type": "integer" },
            "totalChars": { "type": "integer" },
            "nextPage": { "type": ["integer", "null"] },
            "title": { "type": "string" },
            "sourceUri": { "type": "string" },
            "text": { "type": "string" },
            "mediaId": { "type": "string" },
            "mimeType": { "type": "string" },
            "sizeBytes": { "type": "integer" }
        },
        "required": ["documentId", "dataSourceId"]
    })
}

/// The `outputSchema` of agentic_search.
pub fn agentic_output_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "query": { "type": "string" },
            "knowledgeBaseIds": { "type": "array", "items": { "type": "string" } },
            "steps": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "step": { "type": "string" },
                        "status": { "type": "string" },
                        "message": { "type": "string" }
                    },
                    "required": ["step", "status", "message"]
                }
            },
            "answer": { "type": "string" },
            "citations": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "startIndex": { "type": "integer" },
                        "endIndex": { "type": "integer" },
                        "results": { "type": "array", "items": { "type": "integer" } }
                    },
                    "required": ["startIndex", "endIndex", "results"]
                }
            },
            "count": { "type": "integer" },
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "text": { "type": "string" },
                        "contentType": { "type": "string" },
                        "knowledgeBaseId": { "type": ["string", "null"] },
                        "location": location_schema(),
                        "documentId": { "type": "string" },
                        "dataSourceId": { "type": "string" },
                        "metadata": { "type": "object" }
                    },
                    "required": ["text", "contentType", "metadata"]
                }
            },
            "truncated": { "type": "boolean" }
        },
        "required": ["query", "knowledgeBaseIds", "steps", "count", "results"]
    })
}

/// The `outputSchema` of the link tool.
pub fn link_output_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "url": { "type": "string" },
            "mimeType": { "type": "string" },
            "sizeBytes": { "type": "integer" },
            "documentId": { "type": "string" },
            "dataSourceId": { "type": "string" },
            "mediaId": { "type": "string" }
        },
        "required": ["url", "mimeType", "documentId", "dataSourceId"]
    })
}

/// The `outputSchema` of the info tool.
pub fn info_output_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "backend": { "type": "string" },
            "kb_id": { "type": "string" },
            "region": { "type": "string" },
            "status": { "type": "string" },
            "kb_type": { "type": "string" },
            "type_source": { "type": "string" },
            "name": { "type": "string" },
            "description": { "type": "string" },
            "note": { "type": "string" },
            "userContextModeForRetrieval": { "type": "string" },
            "trustedIdentitySources": { "type": "array", "items": { "type": "string" } },
            "per_user_sessions": { "type": "boolean" },
            "warning": { "type": "string" },
            "knowledge_bases": { "type": "array", "items": { "type": "object" } }
        },
        "required": ["backend", "kb_id", "region", "status", "kb_type"]
    })
}
