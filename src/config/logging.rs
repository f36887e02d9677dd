//! Log settings: LOG_LEVEL (DEBUG, INFO, WARNING, ERROR; never TRACE) and LOG_FORMAT (json or
//! text). `crate::log` installs the logger from them.

use super::{ConfigError, Vars};

/// How the server logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogSettings {
    /// Log filter (LOG_LEVEL, default INFO).
    pub level: log::LevelFilter,
    /// JSON lines (default) or text (LOG_FORMAT=text).
    pub json: bool,
}

impl LogSettings {
    /// Reads LOG_LEVEL and LOG_FORMAT.
    pub fn from_vars(vars: &Vars) -> Result<LogSettings, ConfigError> {
        let level = match vars.get("LOG_LEVEL") {
            None => log::LevelFilter::Info,
            Some(raw) if raw.eq_ignore_ascii_case("trace") => {
                return Err(ConfigError::new(
                    "LOG_LEVEL",
                    "TRACE is not offered: it would put tokens and secrets from the HTTP client's wire dumps in the logs; use DEBUG, the most verbose level",
                ))
            }
            Some(raw) => crate::log::parse_level(raw).ok_or_else(|| {
                ConfigError::new(
                    "LOG_LEVEL",
                    format!("{raw:?} is not a level: use DEBUG, INFO, WARNING or ERROR"),
                )
            })?,
        };
        let json = match vars
            .get("LOG_FORMAT")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("json") => true,
            Some("text") => false,
            Some(other) => {
                return Err(ConfigError::new(
                    "LOG_FORMAT",
                    format!("{other:?}: use json or text"),
                ))
            }
        };
        Ok(LogSettings { level, json })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_choices() {
        let d = LogSettings::from_vars(&Vars::default()).unwrap();
        assert_eq!((d.level, d.json), (log::LevelFilter::Info, true));
        let v = Vars::from_pairs([("LOG_LEVEL", "warning"), ("LOG_FORMAT", "TEXT")]);
        let s = LogSettings::from_vars(&v).unwrap();
        assert_eq!((s.level, s.json), (log::LevelFilter::Warn, false));
    }
}
