//! The tool definitions (name, description, input and output schemas) shaped per protocol
//! revision; the calls they describe are checked in `tools.rs`.

use super::agentic::MAX_ITERATIONS;
use super::{Choice, Reading, AGENTIC, DEFAULT_MAX_RESULTS, INFO, LINK, READ, SEARCH};
use crate::kb::{MAX_QUERY_CHARS, MAX_RESULTS};
use crate::mcp::protocol::Version;
use crate::mcp::render;
use serde_json::{json, Value};

/// How to write a filter, for the model.
const FILTER_HELP: &str = "Optional metadata filter (Bedrock RetrievalFilter): one operator \
object. Comparisons take {\"key\": metadata key, \"value\": value}: equals, notEquals, \
greaterThan, greaterThanOrEquals, lessThan, lessThanOrEquals (numbers), in, notIn (lists), \
startsWith, stringContains (strings), listContains. Combine 2 or more with andAll or orAll. \
Example: {\"andAll\": [{\"equals\": {\"key\": \"department\", \"value\": \"HR\"}}, \
{\"greaterThanOrEquals\": {\"key\": \"year\", \"value\": 2024}}]}. Metadata keys are the \
ones shown in each result's metadata (from the documents' .metadata.json files or the data \
source's fields).";

/// The tool definitions shaped for `version`, in a stable order; `links` adds the link tool,
/// `reading` read_document and agentic_search, `choice` the `knowledge_base_id` argument.
pub fn definitions(
    version: Version,
    links: bool,
    reading: Reading,
    choice: Option<&Choice<'_>>,
) -> Vec<Value> {
    let mut search = json!({
        "name": SEARCH,
        "description": "Search the AWS Bedrock Knowledge Base and return the most relevant passages, \
            each with its relevance score, source location and metadata. Results may be text, \
            images (returned as image content), table rows, or audio/video transcripts and \
            summaries. Results carry a documentId and dataSourceId (for read_document and \
            get_document_link) when the knowledge base gives them. When a result says more are \
            available, pass its nextPage as next_page (with the same other arguments) for the \
            next results.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "query": {
                    "type": "string",
                    "description": "Search query text (natural language works best).",
                    "minLength": 1,
                    "maxLength": MAX_QUERY_CHARS
                },
                "max_results": {
                    "type": "integer",
                    "description": format!("Maximum number of results to return (1-{MAX_RESULTS})."),
                    "minimum": 1,
                    "maximum": MAX_RESULTS,
                    "default": DEFAULT_MAX_RESULTS
                },
                "filter": {
                    "type": "object",
                    "description": FILTER_HELP
                },
                "search_type": {
                    "type": "string",
                    "enum": ["HYBRID", "SEMANTIC"],
                    "description": "Optional, vector knowledge bases only: HYBRID combines keyword and semantic search, SEMANTIC uses meaning only. Leave out to let Bedrock choose."
                },
                "next_page": {
                    "type": "string",
                    "description": "Optional: the nextPage of the previous result, for its next results. Works only with the same query, filter, search_type, max_results and knowledge base."
                }
            },
            "required": ["query"],
            "additionalProperties": false
        }
    });
    let mut info = json!({
        "name": INFO,
        "description": "Get information about the configured Knowledge Base: its ID, region and \
            status, plus its name and description when the server may read them.",
        "inputSchema": { "type": "object", "properties": {}, "additionalProperties": false }
    });
    let mut link = json!({
        "name": LINK,
        "description": "Get a short-lived link (valid about 5 minutes) to the original document \
            behind a search result, so the person can open it. Pass the documentId and \
            dataSourceId of that result (and its mediaId for an embedded image). Only documents \
            the signed-in user may read are linked.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "document_id": document_id_schema(),
                "data_source_id": data_source_id_schema(),
                "media_id": {
                    "type": "string",
                    "description": "Optional: the mediaId of an image inside the document, to link to that image.",
                    "minLength": 36,
                    "maxLength": 36
                }
            },
            "required": ["document_id", "data_source_id"],
            "additionalProperties": false
        }
    });
    let mut read = json!({
        "name": READ,
        "description": format!("Read the whole text of a document a search found, a page (at \
            most {} characters) at a time: pass the documentId and dataSourceId of a search \
            result, then page=2, 3, … as each page says. Only documents the signed-in user may \
            read are returned. With the mediaId of an image result, returns that image.",
            reading.page_chars),
        "inputSchema": {
            "type": "object",
            "properties": {
                "document_id": document_id_schema(),
                "data_source_id": data_source_id_schema(),
                "page": {
                    "type": "integer",
                    "description": "Which page to read (default 1); each page says how many there are.",
                    "minimum": 1,
                    "default": 1
                },
                "media_id": {
                    "type": "string",
                    "description": "Optional: the mediaId of an image result, to see that image (not with page).",
                    "minLength": 36,
                    "maxLength": 36
                }
            },
            "required": ["document_id", "data_source_id"],
            "additionalProperties": false
        }
    });
    let mut agentic = json!({
        "name": AGENTIC,
        "description": "Research a question across the knowledge base: Bedrock plans and runs \
            several searches (and may read whole documents), then returns the results with \
            their sources, the steps it took and, with generate_response, an answer with \
            citations. Takes up to a few minutes; use it for questions a single search cannot \
            answer (comparisons, summaries across documents), search_knowledge_base otherwise.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "query": {
                    "type": "string",
                    "description": "The question, in natural language.",
                    "minLength": 1,
                    "maxLength": MAX_QUERY_CHARS
                },
                "knowledge_base_ids": {
                    "type": "array",
                    "items": { "type": "string" },
                    "minItems": 1,
                    "description": "Optional: the knowledge bases to search together (default: all)."
                },
                "generate_response": {
                    "type": "boolean",
                    "description": "Also write an answer with citations (default false).",
                    "default": false
                },
                "max_iterations": {
                    "type": "integer",
                    "description": "Optional: the most planning rounds Bedrock may take.",
                    "minimum": 1,
                    "maximum": MAX_ITERATIONS
                }
            },
            "required": ["query"],
            "additionalProperties": false
        }
    });
    if version >= Version::V2025_03_26 {
        for (tool, title) in [
            (&mut search, "Search knowledge base"),
            (&mut info, "Knowledge base info"),
            (&mut link, "Link to original document"),
            (&mut read, "Read a whole document"),
            (&mut agentic, "Agentic search"),
        ] {
            tool["annotations"] = json!({
                "title": title,
                "readOnlyHint": true,
                "destructiveHint": false,
                "idempotentHint": true,
                "openWorldHint": false
            });
        }
        // Each run plans anew and may answer differently: read-only, not idempotent.
        agentic["annotations"]["idempotentHint"] = json!(false);
    }
    if version >= Version::V2025_06_18 {
        search["title"] = json!("Search knowledge base");
        info["title"] = json!("Knowledge base info");
        search["outputSchema"] = render::search_output_schema();
        info["outputSchema"] = render::info_output_schema();
        link["title"] = json!("Link to original document");
        link["outputSchema"] = render::link_output_schema();
        read["title"] = json!("Read a whole document");
        read["outputSchema"] = render::read_output_schema();
        agentic["title"] = json!("Agentic search");
        agentic["outputSchema"] = render::agentic_output_schema();
    }
    if let Some(choice) = choice {
        let default = choice.ids.first().copied().unwrap_or_default();
        let property = json!({
            "type": "string",
            "enum": choice.ids,
            "description": format!("Which knowledge base to use (default {default}). {}", choice.summary)
        });
        for tool in [&mut search, &mut info, &mut link, &mut read] {
            tool["inputSchema"]["properties"]["knowledge_base_id"] = property.clone();
        }
        agentic["inputSchema"]["properties"]["knowledge_base_ids"]["items"]["enum"] =
            json!(choice.ids);
        let text = search["description"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        search["description"] = json!(format!(
            "{text} Several knowledge bases are available; choose one with knowledge_base_id: {}",
            choice.summary
        ));
        info["description"] = json!(
            "Get information about the configured knowledge bases (all of them, or the one \
             named by knowledge_base_id): ID, region, status, type, name and description."
        );
    }
    let mut all = vec![search, info];
    if links {
        all.push(link);
    }
    if reading.read {
        all.push(read);
    }
    if reading.agentic {
        all.push(agentic);
    }
    all
}

/// A search result's `documentId`, as the document tools take it (GetDocumentContent's limits).
fn document_id_schema() -> Value {
    json!({
        "type": "string",
        "description": "The documentId of a search result.",
        "minLength": 1,
        "maxLength": 1825
    })
}

/// The same result's `dataSourceId` (Bedrock's data-source id pattern).
fn data_source_id_schema() -> Value {
    json!({
        "type": "string",
        "description": "The dataSourceId of the same search result.",
        "pattern": "^[0-9a-zA-Z]{1,10}$"
    })
}
