//! A small, strict XML reader for AWS query-protocol answers (STS): elements, text and the
//! five predefined entities plus character references; nothing else.
//!
//! Owns turning bytes into a tree that callers search by element name, so the order AWS
//! sends elements in never matters. Refuses what an AWS answer never holds and a parser
//! should not guess at: DOCTYPE (no entity expansion), processing instructions other than
//! the XML declaration, mismatched tags, more than one root, and trees deeper than
//! [`MAX_DEPTH`]. Namespace prefixes are dropped (`sts:Code` is `Code`); attributes are
//! skipped. Errors say where, never what text was there (answers hold secrets).
//! Written by hand rather than pulling in an XML crate: STS answers are small and flat.

/// Deeper trees are refused (STS answers are 5 levels deep).
pub const MAX_DEPTH: usize = 32;

/// One element: its local name, its own text (concatenated, entities decoded) and children.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    /// The name without a namespace prefix.
    pub name: String,
    /// The character data directly inside this element.
    pub text: String,
    /// Child elements, in document order.
    pub children: Vec<Element>,
}

impl Element {
    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The element reached by following `path` from here.
    pub fn find(&self, path: &[&str]) -> Option<&Element> {
        path.iter().try_fold(self, |e, name| e.child(name))
    }

    /// The trimmed text at `path`, when present and not blank.
    pub fn text_at(&self, path: &[&str]) -> Option<&str> {
        self.find(path)
            .map(|e| e.text.trim())
            .filter(|t| !t.is_empty())
    }
}

/// Parses a whole document into its root element.
pub fn parse(input: &str) -> Result<Element, String> {
    let mut p = Parser { s: input, pos: 0 };
    p.skip_misc()?;
    if p.rest().starts_with("<!DOCTYPE") || p.rest().starts_with("<!doctype") {
        return Err("a DOCTYPE is not accepted".into());
    }
    let root = p.element(0)?;
    p.skip_misc()?;
    if !p.rest().is_empty() {
        return Err(format!("content after the root element at byte {}", p.pos));
    }
    Ok(root)
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }

    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} at byte {}", self.pos))
    }

    /// Skips whitespace, comments and the XML declaration between top-level items.
    fn skip_misc(&mut self) -> Result<(), String> {
        loop {
            let rest = self.rest();
            let trimmed = rest.trim_start();
            self.pos += rest.len() - trimmed.len();
            if self.rest().starts_with("<?xml") {
                self.skip_past("?>")?;
            } else if self.rest().starts_with("<!--") {
                self.skip_past("-->")?;
            } else {
                return Ok(());
            }
        }
    }

    fn skip_past(&mut self, end: &str) -> Result<(), String> {
        match self.rest().find(end) {
            Some(i) => {
                self.pos += i + end.len();
                Ok(())
            }
            None => self.err(&format!("unterminated construct (no {end:?})")),
        }
    }

    fn name(&mut self) -> Result<&'a str, String> {
        let rest = self.rest();
        let len = rest
            .find(|c: char| c.is_whitespace() || matches!(c, '>' | '/' | '='))
            .unwrap_or(rest.len());
        let name = &rest[..len];
        let ok = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'));
        if !ok {
            return self.err("malformed element name");
        }
        self.pos += len;
        Ok(name)
    }

    fn element(&mut self, depth: usize) -> Result<Element, String> {
        if depth >= MAX_DEPTH {
            return self.err("elements nested too deeply");
        }
        if !self.rest().starts_with('<') {
            return self.err("expected an element");
        }
        self.pos += 1;
        let qname = self.name()?;
        let local = qname.rsplit(':').next().unwrap_or(qname).to_string();
        // Attributes (xmlns and the like) are skipped, quotes respected.
        loop {
            let rest = self.rest();
            let trimmed = rest.trim_start();
            self.pos += rest.len() - trimmed.len();
            let rest = self.rest();
            if rest.starts_with("/>") {
                self.pos += 2;
                return Ok(Element {
                    name: local,
                    ..Element::default()
                });
            }
            if rest.starts_with('>') {
                self.pos += 1;
                break;
            }
            self.name()?;
            if !self.rest().starts_with('=') {
                return self.err("attribute without a value");
            }
            self.pos += 1;
            let quote = match self.rest().chars().next() {
                Some(q @ ('"' | '\'')) => q,
                _ => return self.err("unquoted attribute value"),
            };
            self.pos += 1;
            match self.rest().find(quote) {
                Some(i) if !self.rest()[..i].contains('<') => self.pos += i + 1,
                _ => return self.err("unterminated attribute value"),
            }
        }
        let mut element = Element {
            name: local,
            ..Element::default()
        };
        loop {
            let rest = self.rest();
            if rest.is_empty() {
                return self.err(&format!("element {} is not closed", element.name));
            }
            if let Some(after) = rest.strip_prefix("</") {
                let len = after.find('>').map_or(after.len(), |i| i);
                if after[..len].trim_end() != qname {
                    return self.err(&format!("mismatched closing tag for {}", element.name));
                }
                self.pos += 2 + len + 1;
                if self.pos > self.s.len() {
                    return self.err("unterminated closing tag");
                }
                return Ok(element);
            }
            if rest.starts_with("<!--") {
                self.skip_past("-->")?;
            } else if let Some(after) = rest.strip_prefix("<![CDATA[") {
                let Some(end) = after.find("]]>") else {
                    return self.err("unterminated CDATA section");
                };
                element.text.push_str(&after[..end]);
                self.pos += "<![CDATA[".len() + end + 3;
            } else if rest.starts_with("<?") || rest.starts_with("<!") {
                return self.err("processing instructions and declarations are not accepted here");
            } else if rest.starts_with('<') {
                let child = self.element(depth + 1)?;
                element.children.push(child);
            } else {
                let end = rest.find('<').unwrap_or(rest.len());
                decode_into(&rest[..end], &mut element.text)
                    .map_err(|e| format!("{e} at byte {}", self.pos))?;
                self.pos += end;
            }
        }
    }
}

/// Decodes character data: the five predefined entities and `&#N;` / `&#xN;`.
fn decode_into(raw: &str, out: &mut String) -> Result<(), String> {
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let Some(semi) = after.find(';').filter(|&i| i <= 10) else {
            return Err("a bare '&' in text".into());
        };
        let entity = &after[..semi];
        let c = match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = if let Some(hex) = entity.strip_prefix("#x") {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(dec) = entity.strip_prefix('#') {
                    dec.parse().ok()
                } else {
                    None
                };
                code.and_then(char::from_u32)
                    .ok_or_else(|| "an unknown entity in text".to_string())?
            }
        };
        out.push(c);
        rest = &after[semi + 1..];
    }
    out.push_str(rest);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nested_elements_by_name_with_namespaces_and_entities() {
        let doc = r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment -->
<r:Root xmlns:r="urn:x" a='1'>
  <B>x &amp; y &lt;&#65;&#x42;&gt;</B>
  <A><Leaf>one</Leaf><Empty/><Leaf>two</Leaf></A>
  <C><![CDATA[<raw>]]></C>
</r:Root>"#;
        let root = parse(doc).unwrap();
        assert_eq!(root.name, "Root");
        assert_eq!(root.text_at(&["B"]), Some("x & y <AB>"));
        assert_eq!(root.text_at(&["A", "Leaf"]), Some("one"));
        assert_eq!(root.text_at(&["A", "Empty"]), None);
        assert!(root.find(&["A", "Empty"]).is_some());
        assert_eq!(root.text_at(&["C"]), Some("<raw>"));
        assert_eq!(root.child("A").unwrap().children.len(), 3);
    }

    #[test]
    fn refuses_what_an_aws_answer_never_holds() {
        for bad in [
            "",
            "just text",
            "<A>",
            "<A></B>",
            "<A><B></A></B>",
            "<A/><B/>",
            "<A>x</A>trailing",
            "<!DOCTYPE A [<!ENTITY e 'x'>]><A>&e;</A>",
            "<A>&e;</A>",
            "<A>a & b</A>",
            "<A b=c></A>",
            "<A b='c></A>",
            "<A><?pi x?></A>",
            "<A><!ENTITY x></A>",
            "<A><![CDATA[x</A>",
            "<A>&#xD800;</A>",
            "< A></A>",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
        let deep = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        assert!(parse(&deep).unwrap_err().contains("deeply"));
        let ok = "<a>".repeat(MAX_DEPTH - 1) + &"</a>".repeat(MAX_DEPTH - 1);
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn errors_never_echo_the_text() {
        let e = parse("<A>SECRETKEY & more</A>").unwrap_err();
        assert!(!e.contains("SECRETKEY"), "{e}");
    }
}
