//! Checks of single sign-in values (GUIDs, audiences, scopes, redirect URIs, origins), each
//! naming its variable and what to write instead. Redirect URIs are checked by the same rules
//! the OAuth proxy matches them with (`redirect`, beside this file).

use super::{ConfigError, GRAPH_AUDIENCES, OIDC_SCOPES};
use crate::util::split_list;

pub(super) fn guid(var: &str, raw: &str, what: &str) -> Result<String, ConfigError> {
    let groups: Vec<&str> = raw.split('-').collect();
    let shape_ok = groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()));
    if shape_ok {
        Ok(raw.to_ascii_lowercase())
    } else {
        Err(ConfigError::new(
            var,
            format!(
                "must be the {what} GUID from the Entra app registration \
                 (like 8a3c2f4e-1b2d-4c5e-9f70-123456789abc), got {raw:?}"
            ),
        ))
    }
}

pub(super) fn audiences(raw: &str) -> Result<Vec<String>, ConfigError> {
    let list: Vec<String> = raw
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if let Some(graph) = list.iter().find(|a| GRAPH_AUDIENCES.contains(&a.as_str())) {
        return Err(ConfigError::new(
            "ENTRA_AUDIENCE",
            format!(
                "{graph} is Microsoft Graph's audience; use this API's client ID or api:// URI"
            ),
        ));
    }
    Ok(list)
}

pub(super) fn qualify_scopes(raw: &str, client_id: &str) -> Result<Vec<String>, ConfigError> {
    let mut out: Vec<String> = Vec::new();
    for scope in split_list(raw) {
        if OIDC_SCOPES.split(' ').any(|s| s == scope) {
            continue; // always added upstream; listing it twice would only confuse metadata
        }
        let full = if scope.contains("://") {
            scope
        } else if scope.contains('/') || scope.contains(':') {
            return Err(ConfigError::new(
                "OAUTH_SCOPES",
                format!("{scope:?} is neither a short scope name nor a full api:// scope"),
            ));
        } else {
            format!("api://{client_id}/{scope}")
        };
        if full.starts_with("https://graph.microsoft.com") {
            return Err(ConfigError::new(
                "OAUTH_SCOPES",
                format!("{full} is a Microsoft Graph scope; list this API's scopes (api://{client_id}/...)"),
            ));
        }
        if !out.contains(&full) {
            out.push(full);
        }
    }
    if out.is_empty() {
        return Err(ConfigError::new(
            "OAUTH_SCOPES",
            format!("lists no API scope; use e.g. api://{client_id}/.default or unset it"),
        ));
    }
    Ok(out)
}

pub(super) fn check_redirect_uri(uri: &str) -> Result<(), ConfigError> {
    super::redirect::check_configured(uri).map_err(|why| {
        ConfigError::new(
            "OAUTH_REDIRECT_URIS",
            format!(
                "{uri:?} {why}; use an https:// URL, an http://localhost, http://127.0.0.1 or \
                 http://[::1] URL (any port matches), or a private-use scheme such as cursor://"
            ),
        )
    })
}

/// Checks an `http(s)://host[:port]` origin (a path only when `allow_path`); trims the final `/`.
pub(super) fn origin(var: &str, raw: &str, allow_path: bool) -> Result<String, ConfigError> {
    let trimmed = raw.trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"));
    let host_ok = rest.is_some_and(|r| {
        let host = r.split('/').next().unwrap_or("");
        !host.is_empty() && (allow_path || !r.contains('/'))
    });
    let clean = !trimmed.contains(['?', '#', '@']) && !trimmed.chars().any(char::is_whitespace);
    if !(host_ok && clean) {
        let shape = if allow_path {
            "https://host[:port][/path]"
        } else {
            "https://host[:port]"
        };
        return Err(ConfigError::new(
            var,
            format!("must look like {shape}, got {raw:?}"),
        ));
    }
    if trimmed.starts_with("http://") {
        log::warn!("{var} uses plain http ({trimmed}); use https outside tests");
    }
    Ok(trimmed.to_string())
}
