//! A `.env` reader: `KEY=value` lines, `export` prefixes, `#` comments, single and double
//! quotes. Bad lines are errors that name the line, never silently skipped.

use super::ConfigError;

/// Parses `.env` text into pairs, in file order.
pub fn parse(text: &str, file: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let mut pairs = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map_or(line, str::trim_start);
        let err = |why: &str| ConfigError::plain(format!("{file} line {}: {why}", n + 1));
        let Some((key, value)) = line.split_once('=') else {
            return Err(err("expected KEY=value"));
        };
        let key = key.trim();
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(err("variable names may use only letters, digits and _"));
        }
        pairs.push((key.to_string(), unquote(value.trim()).map_err(err)?));
    }
    Ok(pairs)
}

fn unquote(v: &str) -> Result<String, &'static str> {
    if let Some(rest) = v.strip_prefix('\'') {
        let end = rest.find('\'').ok_or("unterminated single quote")?;
        return Ok(rest[..end].to_string());
    }
    if let Some(rest) = v.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = rest.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return Ok(out),
                '\\' => match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some(other) => out.push(other),
                    None => break,
                },
                c => out.push(c),
            }
        }
        return Err("unterminated double quote");
    }
    // Unquoted: a ` #` starts a comment.
    Ok(match v.find(" #") {
        Some(i) => v[..i].trim_end().to_string(),
        None => v.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_usual_forms() {
        let text =
            "# comment\n\nA=1\nexport B = two words # note\nC='single # kept'\nD=\"x\\ny\"\nE=\n";
        let pairs = parse(text, ".env").unwrap();
        assert_eq!(
            pairs,
            vec![
                ("A".into(), "1".into()),
                ("B".into(), "two words".into()),
                ("C".into(), "single # kept".into()),
                ("D".into(), "x\ny".into()),
                ("E".into(), "".into()),
            ]
        );
    }

    #[test]
    fn bad_lines_are_reported_with_their_number() {
        assert_eq!(
            parse("A=1\nnot a pair\n", ".env").unwrap_err().message,
            ".env line 2: expected KEY=value"
        );
        assert!(parse("BAD KEY=1", ".env")
            .unwrap_err()
            .message
            .contains("line 1"));
        assert!(parse("A=\"open", ".env")
            .unwrap_err()
            .message
            .contains("unterminated"));
        assert!(parse("A='open", ".env")
            .unwrap_err()
            .message
            .contains("unterminated"));
        assert!(parse("=x", ".env").is_err());
    }
}
