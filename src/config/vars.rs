//! The raw variable map: the process environment over an optional `.env` file.

use std::collections::HashMap;
use std::fmt;

/// Raw configuration variables. Empty values count as unset, as in most twelve-factor tools.
#[derive(Clone, Default)]
pub struct Vars {
    map: HashMap<String, String>,
}

impl Vars {
    /// Builds a map from explicit pairs (tests, and the environment after `.env` merging).
    pub fn from_pairs<I, K, V>(pairs: I) -> Vars
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Vars {
            map: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// Static AWS keys (so the credentials chain resolves without a network) plus `extra`.
    #[cfg(test)]
    pub fn with_test_keys(extra: &[(&str, &str)]) -> Vars {
        let mut pairs = vec![
            ("AWS_ACCESS_KEY_ID", "AKIA1"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
        ];
        pairs.extend_from_slice(extra);
        Vars::from_pairs(pairs)
    }

    /// The value of `name`, trimmed, or `None` when unset or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.map
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// Sets a value (used by CLI flags that override the environment).
    pub fn set(&mut self, name: &str, value: &str) {
        self.map.insert(name.to_string(), value.to_string());
    }

    /// Parses a boolean the way people write them in `.env` files.
    pub fn flag(&self, name: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(name).map(|v| v.to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) => match v.as_str() {
                "1" | "true" | "yes" | "on" => Ok(true),
                "0" | "false" | "no" | "off" => Ok(false),
                _ => Err(ConfigError::new(name, "must be true or false")),
            },
        }
    }

    /// Parses an unsigned number within `min..=max`.
    pub fn number(&self, name: &str, default: u64, min: u64, max: u64) -> Result<u64, ConfigError> {
        let Some(raw) = self.get(name) else {
            return Ok(default);
        };
        match raw.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(ConfigError::new(
                name,
                format!("must be a whole number from {min} to {max}, got {raw:?}"),
            )),
        }
    }
}

// Values may be secrets (AWS_SECRET_ACCESS_KEY, tokens): Debug shows names only.
impl fmt::Debug for Vars {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&String> = self.map.keys().collect();
        names.sort();
        f.debug_struct("Vars")
            .field("names", &names)
            .finish_non_exhaustive()
    }
}

/// A configuration problem: which variable, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The variable (or CLI flag) at fault; empty when the message says it all.
    pub var: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl ConfigError {
    /// A problem with one variable.
    pub fn new(var: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            var: var.to_string(),
            message: message.into(),
        }
    }

    /// A problem stated in full by its message (e.g. the auth message that names two variables).
    pub fn plain(message: impl Into<String>) -> ConfigError {
        ConfigError {
            var: String::new(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.var.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.var, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}
