//! Metadata filters in Bedrock's `RetrievalFilter` shape: checked before anything is sent
//! (known operators, `{key, value}` leaves, `andAll`/`orAll` of 2 or more, bounded depth and
//! size), and evaluated against a passage's metadata for backends that filter themselves.
//!
//! A valid filter is passed to Bedrock unchanged. Must not do I/O.

use serde_json::{Map, Value};

/// Operators whose operand is `{key, value}`.
const LEAF: [&str; 11] = [
    "equals",
    "notEquals",
    "greaterThan",
    "greaterThanOrEquals",
    "lessThan",
    "lessThanOrEquals",
    "in",
    "notIn",
    "startsWith",
    "listContains",
    "stringContains",
];
/// Operators whose operand is a list of filters.
const GROUP: [&str; 2] = ["andAll", "orAll"];
/// Deepest nesting of andAll/orAll accepted.
const MAX_DEPTH: usize = 5;
/// Most operators in one filter.
const MAX_NODES: usize = 64;
/// Longest metadata key (Bedrock's FilterKey).
const MAX_KEY_CHARS: usize = 100;

/// A correct filter, shown in every refusal.
pub const EXAMPLE: &str = r#"{"andAll": [{"equals": {"key": "department", "value": "HR"}}, {"greaterThanOrEquals": {"key": "year", "value": 2024}}]}"#;

/// Checks `filter`; the error says what is wrong and shows a correct example.
pub fn validate(filter: &Value) -> Result<(), String> {
    let mut nodes = 0;
    check(filter, 1, &mut nodes, "filter").map_err(|why| {
        format!(
            "{why}. A filter is one operator object: {} with {{\"key\", \"value\"}}, or andAll / \
             orAll with a list of 2 or more filters, e.g. {EXAMPLE}",
            LEAF.join(", ")
        )
    })
}

fn check(f: &Value, depth: usize, nodes: &mut usize, at: &str) -> Result<(), String> {
    *nodes += 1;
    if *nodes > MAX_NODES {
        return Err(format!("the filter has more than {MAX_NODES} operators"));
    }
    let Some(obj) = f.as_object() else {
        return Err(format!("{at} must be an object"));
    };
    let mut ops = obj.iter();
    let (Some((op, operand)), None) = (ops.next(), ops.next()) else {
        return Err(format!("{at} must have exactly one operator"));
    };
    let here = format!("{at}.{op}");
    if GROUP.contains(&op.as_str()) {
        if depth >= MAX_DEPTH {
            return Err(format!("{here} nests deeper than {MAX_DEPTH} levels"));
        }
        let list = operand
            .as_array()
            .filter(|l| l.len() >= 2)
            .ok_or_else(|| format!("{here} must be a list of 2 or more filters"))?;
        for (i, member) in list.iter().enumerate() {
            check(member, depth + 1, nodes, &format!("{here}[{i}]"))?;
        }
        return Ok(());
    }
    if !LEAF.contains(&op.as_str()) {
        return Err(format!("{at} has an unknown operator {op:?}"));
    }
    let leaf = operand
        .as_object()
        .filter(|o| o.len() == 2)
        .ok_or_else(|| format!("{here} must be {{\"key\": …, \"value\": …}}"))?;
    match leaf.get("key").and_then(Value::as_str) {
        Some(k) if !k.is_empty() && k.chars().count() <= MAX_KEY_CHARS => {}
        _ => {
            return Err(format!(
                "{here}.key must be a metadata key of 1 to {MAX_KEY_CHARS} characters"
            ))
        }
    }
    let value = leaf
        .get("value")
        .ok_or_else(|| format!("{here} must be {{\"key\": …, \"value\": …}}"))?;
    let fits = match op.as_str() {
        "in" | "notIn" => value.as_array().is_some_and(|l| !l.is_empty()),
        "startsWith" | "stringContains" => value.is_string(),
        "greaterThan" | "greaterThanOrEquals" | "lessThan" | "lessThanOrEquals" => {
            value.is_number()
        }
        _ => !value.is_null() && !value.is_object(),
    };
    if fits {
        Ok(())
    } else {
        Err(format!(
            "{here}.value has the wrong type for {op}: {}",
            want(op)
        ))
    }
}

fn want(op: &str) -> &'static str {
    match op {
        "in" | "notIn" => "a non-empty list",
        "startsWith" | "stringContains" => "a string",
        "greaterThan" | "greaterThanOrEquals" | "lessThan" | "lessThanOrEquals" => "a number",
        _ => "a string, number, boolean or list",
    }
}

/// Whether `metadata` satisfies a filter that passed [`validate`].
pub fn matches(filter: &Value, metadata: &Map<String, Value>) -> bool {
    let Some((op, operand)) = filter.as_object().and_then(|o| o.iter().next()) else {
        return false;
    };
    if let Some(list) = operand.as_array() {
        return match op.as_str() {
            "andAll" => list.iter().all(|f| matches(f, metadata)),
            "orAll" => list.iter().any(|f| matches(f, metadata)),
            _ => false,
        };
    }
    let key = operand.get("key").and_then(Value::as_str).unwrap_or("");
    let value = &operand["value"];
    let Some(actual) = metadata.get(key) else {
        return op == "notEquals" || op == "notIn";
    };
    let number = |v: &Value| v.as_f64();
    match op.as_str() {
        "equals" => actual == value,
        "notEquals" => actual != value,
        "in" => value.as_array().is_some_and(|l| l.contains(actual)),
        "notIn" => value.as_array().is_some_and(|l| !l.contains(actual)),
        "startsWith" => {
            matches!((actual.as_str(), value.as_str()), (Some(a), Some(v)) if a.starts_with(v))
        }
        "stringContains" => {
            matches!((actual.as_str(), value.as_str()), (Some(a), Some(v)) if a.contains(v))
        }
        "listContains" => actual.as_array().is_some_and(|l| l.contains(value)),
        cmp => match (number(actual), number(value)) {
            (Some(a), Some(v)) => match cmp {
                "greaterThan" => a > v,
                "greaterThanOrEquals" => a >= v,
                "lessThan" => a < v,
                _ => a <= v,
            },
            _ => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accepts_every_operator_in_its_shape() {
        let example: Value = serde_json::from_str(EXAMPLE).unwrap();
        assert_eq!(validate(&example), Ok(()));
        for f in [
            json!({"equals": {"key": "dept", "value": "HR"}}),
            json!({"notEquals": {"key": "draft", "value": true}}),
            json!({"in": {"key": "dept", "value": ["HR", "IT"]}}),
            json!({"notIn": {"key": "dept", "value": ["HR"]}}),
            json!({"startsWith": {"key": "title", "value": "Policy"}}),
            json!({"stringContains": {"key": "title", "value": "leave"}}),
            json!({"listContains": {"key": "tags", "value": "urgent"}}),
            json!({"lessThan": {"key": "year", "value": 2020}}),
            json!({"orAll": [{"equals": {"key": "a", "value": 1}}, {"andAll": [
                {"equals": {"key": "b", "value": 2}}, {"equals": {"key": "c", "value": 3}}]}]}),
        ] {
            assert_eq!(validate(&f), Ok(()), "{f}");
        }
    }

    #[test]
    fn refuses_anything_else_with_an_example() {
        let mut deep = json!({"equals": {"key": "k", "value": 1}});
        for _ in 0..MAX_DEPTH {
            deep = json!({"andAll": [deep.clone(), {"equals": {"key": "k", "value": 1}}]});
        }
        let wide = json!({"orAll": (0..MAX_NODES).map(|i| json!({"equals": {"key": "k", "value": i}})).collect::<Vec<_>>()});
        for (f, why) in [
            (json!("dept=HR"), "must be an object"),
            (json!({}), "exactly one operator"),
            (
                json!({"equals": {"key": "a", "value": 1}, "notEquals": {"key": "b", "value": 2}}),
                "exactly one operator",
            ),
            (
                json!({"like": {"key": "a", "value": "x"}}),
                "unknown operator \"like\"",
            ),
            (
                json!({"equals": {"key": "", "value": 1}}),
                "filter.equals.key",
            ),
            (
                json!({"equals": {"key": "a"}}),
                "{\"key\": …, \"value\": …}",
            ),
            (json!({"equals": {"key": "a", "value": null}}), "wrong type"),
            (json!({"in": {"key": "a", "value": "HR"}}), "non-empty list"),
            (
                json!({"greaterThan": {"key": "a", "value": "2024"}}),
                "a number",
            ),
            (
                json!({"andAll": [{"equals": {"key": "a", "value": 1}}]}),
                "2 or more",
            ),
            (
                json!({"orAll": [{"equals": {"key": "a", "value": 1}}, {"bad": 1}]}),
                "filter.orAll[1]",
            ),
            (deep, "deeper than"),
            (wide, "more than 64"),
        ] {
            let e = validate(&f).unwrap_err();
            assert!(e.contains(why) && e.contains(EXAMPLE), "{f}: {e}");
        }
    }

    #[test]
    fn evaluates_against_metadata() {
        let meta = json!({"dept": "HR", "department": "HR", "year": 2025, "tags": ["a", "b"],
            "title": "Leave policy"});
        let meta = meta.as_object().unwrap();
        let example: Value = serde_json::from_str(EXAMPLE).unwrap();
        let yes = [
            json!({"equals": {"key": "dept", "value": "HR"}}),
            json!({"in": {"key": "dept", "value": ["IT", "HR"]}}),
            json!({"notEquals": {"key": "missing", "value": 1}}),
            json!({"greaterThan": {"key": "year", "value": 2024}}),
            json!({"listContains": {"key": "tags", "value": "b"}}),
            json!({"startsWith": {"key": "title", "value": "Leave"}}),
            json!({"orAll": [{"equals": {"key": "dept", "value": "IT"}}, {"stringContains": {"key": "title", "value": "policy"}}]}),
            example,
        ];
        for f in yes {
            assert!(matches(&f, meta), "{f}");
        }
        for f in [
            json!({"equals": {"key": "dept", "value": "IT"}}),
            json!({"equals": {"key": "missing", "value": 1}}),
            json!({"lessThanOrEquals": {"key": "year", "value": 2024}}),
            json!({"andAll": [{"equals": {"key": "dept", "value": "HR"}}, {"equals": {"key": "year", "value": 2020}}]}),
        ] {
            assert!(!matches(&f, meta), "{f}");
        }
    }
}
