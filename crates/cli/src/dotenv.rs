//! Reading `HERMOD_HOME/.env`: `KEY=value` lines, optional
//! `export ` prefix, `#` comments, single or double quotes.

/// Parses `.env` text. Malformed lines are reported with their number; the
/// values themselves are never echoed (they are often secrets).
pub fn parse(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut vars = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("line {}: expected KEY=value", n + 1));
        };
        let key = key.trim();
        let valid = !key.is_empty()
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !key.starts_with(|c: char| c.is_ascii_digit());
        if !valid {
            return Err(format!(
                "line {}: {key:?} is not a valid variable name",
                n + 1
            ));
        }
        vars.push((key.to_owned(), unquote(value.trim(), n + 1)?));
    }
    Ok(vars)
}

fn unquote(value: &str, line: usize) -> Result<String, String> {
    for quote in ['"', '\''] {
        if let Some(rest) = value.strip_prefix(quote) {
            let Some(end) = rest.find(quote) else {
                return Err(format!("line {line}: unterminated quote"));
            };
            let inner = &rest[..end];
            return Ok(if quote == '"' {
                inner.replace("\\n", "\n").replace("\\\"", "\"")
            } else {
                inner.to_owned()
            });
        }
    }
    // Unquoted: a ` #` starts a comment.
    let value = match value.find(" #") {
        Some(i) => &value[..i],
        None => value,
    };
    Ok(value.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms() {
        let text = "# comment\nA=1\nexport B = two \nC=\"x y\"\nD='$raw'\nE=v # note\n\nF=\n";
        let vars = parse(text).unwrap();
        let get = |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("A"), Some("1"));
        assert_eq!(get("B"), Some("two"));
        assert_eq!(get("C"), Some("x y"));
        assert_eq!(get("D"), Some("$raw"));
        assert_eq!(get("E"), Some("v"));
        assert_eq!(get("F"), Some(""));
    }

    #[test]
    fn reports_bad_lines_without_values() {
        let err = parse("OK=1\nsecret-value-here\n").unwrap_err();
        assert!(err.contains("line 2"));
        assert!(!err.contains("secret"));
        assert!(parse("1X=2").is_err());
        assert!(parse("A=\"open").is_err());
    }
}
