//! Protocol revisions: which we speak, how a request's revision is chosen, and session ids.
//!
//! Two eras: *legacy* revisions open with `initialize` (2024-11-05 … 2025-11-25) and *modern*
//! ones carry the revision in every request's `_meta` (2026-07-28). The server keeps no
//! per-session state: a session id only records the negotiated revision plus 128 random bits,
//! so any replica behind a load balancer can read it (sessions never authenticate anything).

/// Legacy revisions, newest first. The first is what we answer when a client asks for one we lack.
pub const LEGACY_VERSIONS: [&str; 4] = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];
/// Modern (stateless) revisions, newest first.
pub const MODERN_VERSIONS: [&str; 1] = ["2026-07-28"];
/// What a request without version header or session is assumed to speak (2025-06-18 transports rule).
pub const DEFAULT_VERSION: &str = "2025-03-26";
/// The `_meta` key that carries the revision of a modern request.
pub const META_PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
/// The `_meta` key that carries a modern request's client capabilities (required).
pub const META_CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
/// The `_meta` key that carries server identity in modern results.
pub const META_SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";

/// A protocol revision we speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    /// 2024-11-05: HTTP+SSE transport, tools without annotations.
    V2024_11_05,
    /// 2025-03-26: Streamable HTTP, batches, tool annotations.
    V2025_03_26,
    /// 2025-06-18: no batches, structured tool output, title.
    V2025_06_18,
    /// 2025-11-25: input validation errors as tool errors.
    V2025_11_25,
    /// 2026-07-28: stateless, `server/discover`, `resultType`, cacheable lists.
    V2026_07_28,
}

impl Version {
    /// Parses a revision string we support.
    pub fn parse(s: &str) -> Option<Version> {
        Some(match s {
            "2024-11-05" => Version::V2024_11_05,
            "2025-03-26" => Version::V2025_03_26,
            "2025-06-18" => Version::V2025_06_18,
            "2025-11-25" => Version::V2025_11_25,
            "2026-07-28" => Version::V2026_07_28,
            _ => return None,
        })
    }

    /// The revision string.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V2024_11_05 => "2024-11-05",
            Version::V2025_03_26 => "2025-03-26",
            Version::V2025_06_18 => "2025-06-18",
            Version::V2025_11_25 => "2025-11-25",
            Version::V2026_07_28 => "2026-07-28",
        }
    }

    /// True for stateless revisions that carry the version in `_meta`.
    pub fn is_modern(self) -> bool {
        self >= Version::V2026_07_28
    }

    /// Every revision we speak, newest first.
    pub fn all() -> Vec<&'static str> {
        MODERN_VERSIONS
            .iter()
            .chain(LEGACY_VERSIONS.iter())
            .copied()
            .collect()
    }
}

/// Chooses the revision to answer an `initialize` with: the client's if we speak it (legacy
/// only, since `initialize` is a legacy method), else our newest legacy revision.
pub fn negotiate(requested: Option<&str>) -> Version {
    requested
        .and_then(Version::parse)
        .filter(|v| !v.is_modern())
        .unwrap_or(Version::V2025_11_25)
}

/// Mints a session id that records the negotiated revision: `<yyyymmdd>-<32 hex>`.
pub fn new_session_id(version: Version) -> String {
    format!(
        "{}-{}",
        version.as_str().replace('-', ""),
        crate::util::random_hex(16)
    )
}

/// Reads the revision back from a session id; `None` for ids we did not mint.
pub fn session_version(id: &str) -> Option<Version> {
    let (date, random) = id.split_once('-')?;
    if date.len() != 8
        || !date.bytes().all(|b| b.is_ascii_digit())
        || random.len() != 32
        || !random.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return None;
    }
    let dashed = format!("{}-{}-{}", &date[..4], &date[4..6], &date[6..]);
    Version::parse(&dashed).filter(|v| !v.is_modern())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_echoes_supported_legacy_versions_and_falls_back_to_newest_legacy() {
        for v in LEGACY_VERSIONS {
            assert_eq!(negotiate(Some(v)).as_str(), v);
        }
        assert_eq!(negotiate(Some("1999-01-01")), Version::V2025_11_25);
        assert_eq!(negotiate(Some("2026-07-28")), Version::V2025_11_25);
        assert_eq!(negotiate(None), Version::V2025_11_25);
    }

    #[test]
    fn session_ids_round_trip_and_reject_foreign_ids() {
        let id = new_session_id(Version::V2025_06_18);
        assert!(id.bytes().all(|b| (0x21..=0x7e).contains(&b)));
        assert_eq!(session_version(&id), Some(Version::V2025_06_18));
        assert_ne!(id, new_session_id(Version::V2025_06_18));
        assert_eq!(session_version("20250618-xyz"), None);
        assert_eq!(
            session_version("19990101-0123456789abcdef0123456789abcdef"),
            None
        );
        assert_eq!(session_version("garbage"), None);
        assert_eq!(session_version(""), None);
        assert_eq!(
            session_version("2025061é-0123456789abcdef0123456789abcdef"),
            None
        );
        assert_eq!(
            session_version("20é0618-0123456789abcdef0123456789abcdef"),
            None
        );
    }

    #[test]
    fn versions_are_ordered_by_date() {
        assert!(Version::V2024_11_05 < Version::V2025_03_26);
        assert!(Version::V2025_11_25 < Version::V2026_07_28);
        assert!(Version::V2026_07_28.is_modern() && !Version::V2025_11_25.is_modern());
        assert_eq!(Version::all()[0], "2026-07-28");
    }
}
