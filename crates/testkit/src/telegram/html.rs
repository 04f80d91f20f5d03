//! `parse_mode: "HTML"` as Telegram parses it: only its tags, balanced,
//! with `&lt;` `&gt;` `&amp;` `&quot;` and numeric character references.
//! The result is the plain text and its `MessageEntity` list (offsets in
//! UTF-16 code units); errors carry Telegram's wording after
//! `can't parse entities: `.

use serde_json::{Value, json};

/// Text with its formatting entities.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Formatted {
    pub(crate) text: String,
    pub(crate) entities: Vec<Value>,
}

const TAGS: &[&str] = &[
    "a",
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "tg-emoji",
    "code",
    "pre",
    "blockquote",
];

#[derive(Debug)]
struct Open {
    name: String,
    /// `href`, the code language or the custom emoji id.
    argument: Option<String>,
    expandable: bool,
    start: usize,
    /// A `pre` whose inner `code` named a language.
    language: Option<String>,
}

fn utf16_len(text: &str) -> usize {
    text.encode_utf16().count()
}

/// Parses `raw`; the error is the part after `can't parse entities: `.
pub(crate) fn parse(raw: &str) -> Result<Formatted, String> {
    let bytes = raw.as_bytes();
    let mut text = String::new();
    let mut entities: Vec<Value> = Vec::new();
    let mut open: Vec<Open> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'&' => {
                let (decoded, used) = decode_reference(&raw[i..]);
                text.push_str(&decoded);
                i += used;
            }
            b'<' if bytes.get(i + 1) == Some(&b'/') => {
                let begin = i;
                let Some(tag) = open.pop() else {
                    return Err(format!("Unexpected end tag at byte offset {begin}"));
                };
                i += 2;
                let name = read_name(raw, &mut i);
                skip_spaces(bytes, &mut i);
                if bytes.get(i) != Some(&b'>') {
                    return Err(format!("Can't find end of the tag at byte offset {begin}"));
                }
                i += 1;
                if !name.is_empty() && name != tag.name {
                    return Err(format!(
                        "Unmatched end tag at byte offset {begin}, expected \"</{}>\", found \"</{name}>\"",
                        tag.name
                    ));
                }
                close(tag, utf16_len(&text), &mut open, &mut entities);
            }
            b'<' => {
                let begin = i;
                i += 1;
                let name = read_name(raw, &mut i);
                if !TAGS.contains(&name.as_str()) {
                    return Err(format!(
                        "Unsupported start tag \"{name}\" at byte offset {begin}"
                    ));
                }
                let attributes = read_attributes(raw, &mut i, &name, begin)?;
                open.push(start_tag(name, &attributes, begin, utf16_len(&text))?);
            }
            _ => {
                let c = raw[i..].chars().next().unwrap_or('\u{fffd}');
                text.push(c);
                i += c.len_utf8();
            }
        }
    }
    if let Some(tag) = open.last() {
        return Err(format!(
            "Can't find end tag corresponding to start tag \"{}\"",
            tag.name
        ));
    }
    entities.sort_by_key(|e| (offset(e), std::cmp::Reverse(length(e))));
    Ok(Formatted { text, entities })
}

fn start_tag(
    name: String,
    attributes: &[(String, String)],
    begin: usize,
    start: usize,
) -> Result<Open, String> {
    let attribute = |wanted: &str| {
        attributes
            .iter()
            .find(|(n, _)| n == wanted)
            .map(|(_, v)| v.clone())
    };
    let argument = match name.as_str() {
        "a" => attribute("href"),
        "code" => attribute("class").and_then(|c| c.strip_prefix("language-").map(str::to_owned)),
        "span" => {
            if attribute("class").as_deref() != Some("tg-spoiler") {
                return Err(format!(
                    "Tag \"span\" must have class \"tg-spoiler\" at byte offset {begin}"
                ));
            }
            None
        }
        "tg-emoji" => match attribute("emoji-id") {
            Some(id) => Some(id),
            None => {
                return Err(format!(
                    "Custom emoji entity must contain a tg://emoji URL at byte offset {begin}"
                ));
            }
        },
        _ => None,
    };
    Ok(Open {
        expandable: name == "blockquote" && attribute("expandable").is_some(),
        name,
        argument,
        start,
        language: None,
    })
}

/// Ends `tag` at `end`, adding its entity when it covers any text.
fn close(tag: Open, end: usize, open: &mut [Open], entities: &mut Vec<Value>) {
    let length = end - tag.start;
    if tag.name == "code"
        && let Some(parent) = open.last_mut()
        && parent.name == "pre"
        && tag.argument.is_some()
    {
        // <pre><code class="language-x"> is one `pre` entity with a language.
        parent.language = tag.argument;
        return;
    }
    if length == 0 {
        return;
    }
    let kind = match tag.name.as_str() {
        "b" | "strong" => "bold",
        "i" | "em" => "italic",
        "u" | "ins" => "underline",
        "s" | "strike" | "del" => "strikethrough",
        "span" | "tg-spoiler" => "spoiler",
        "code" => "code",
        "pre" => "pre",
        "tg-emoji" => "custom_emoji",
        "blockquote" if tag.expandable => "expandable_blockquote",
        "blockquote" => "blockquote",
        "a" => "text_link",
        _ => return,
    };
    let mut entity = json!({"type": kind, "offset": tag.start, "length": length});
    match kind {
        "text_link" => match tag.argument {
            Some(url) if !url.is_empty() => {
                let user = url
                    .strip_prefix("tg://user?id=")
                    .and_then(|id| id.parse::<i64>().ok());
                if let Some(id) = user {
                    entity["type"] = json!("text_mention");
                    entity["user"] = json!({"id": id, "is_bot": false, "first_name": ""});
                } else {
                    entity["url"] = json!(url);
                }
            }
            // A link without a target is plain text.
            _ => return,
        },
        "pre" => {
            if let Some(language) = tag.language {
                entity["language"] = json!(language);
            }
        }
        "custom_emoji" => entity["custom_emoji_id"] = json!(tag.argument.unwrap_or_default()),
        _ => {}
    }
    entities.push(entity);
}

fn offset(entity: &Value) -> u64 {
    entity["offset"].as_u64().unwrap_or(0)
}

fn length(entity: &Value) -> u64 {
    entity["length"].as_u64().unwrap_or(0)
}

fn skip_spaces(bytes: &[u8], i: &mut usize) {
    while bytes.get(*i).is_some_and(u8::is_ascii_whitespace) {
        *i += 1;
    }
}

/// A tag or attribute name at `i` (ASCII letters, digits, `-`, `_`), lowercased.
fn read_name(raw: &str, i: &mut usize) -> String {
    let bytes = raw.as_bytes();
    let start = *i;
    while bytes
        .get(*i)
        .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
    {
        *i += 1;
    }
    raw[start..*i].to_ascii_lowercase()
}

/// The attributes of a start tag, up to and including its `>`.
fn read_attributes(
    raw: &str,
    i: &mut usize,
    tag: &str,
    begin: usize,
) -> Result<Vec<(String, String)>, String> {
    let bytes = raw.as_bytes();
    let unclosed = || format!("Unclosed start tag at byte offset {begin}");
    let mut attributes = Vec::new();
    loop {
        skip_spaces(bytes, i);
        match bytes.get(*i) {
            None => return Err(unclosed()),
            Some(b'>') => {
                *i += 1;
                return Ok(attributes);
            }
            Some(_) => {}
        }
        let name = read_name(raw, i);
        if name.is_empty() {
            return Err(format!(
                "Empty attribute name in the tag \"{tag}\" at byte offset {begin}"
            ));
        }
        skip_spaces(bytes, i);
        if bytes.get(*i) != Some(&b'=') {
            attributes.push((name, String::new()));
            continue;
        }
        *i += 1;
        skip_spaces(bytes, i);
        let value = match bytes.get(*i) {
            None => return Err(unclosed()),
            Some(quote @ (b'"' | b'\'')) => {
                let quote = *quote;
                let start = *i + 1;
                let Some(len) = bytes[start..].iter().position(|b| *b == quote) else {
                    return Err(unclosed());
                };
                *i = start + len + 1;
                decode_all(&raw[start..start + len])
            }
            Some(_) => {
                let start = *i;
                while bytes
                    .get(*i)
                    .is_some_and(|b| !b.is_ascii_whitespace() && *b != b'>')
                {
                    *i += 1;
                }
                decode_all(&raw[start..*i])
            }
        };
        attributes.push((name, value));
    }
}

/// Decodes every character reference in `raw`.
fn decode_all(raw: &str) -> String {
    let mut out = String::new();
    let mut rest = raw;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let (decoded, used) = decode_reference(&rest[at..]);
        out.push_str(&decoded);
        rest = &rest[at + used..];
    }
    out.push_str(rest);
    out
}

/// Decodes the reference `raw` starts with (`&...;`); an unknown one is
/// kept as a literal `&`. Returns the text and the bytes used.
fn decode_reference(raw: &str) -> (String, usize) {
    let literal = ("&".to_owned(), 1);
    let Some(end) = raw.bytes().take(12).position(|b| b == b';') else {
        return literal;
    };
    let name = &raw[1..end];
    let decoded = match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "quot" => Some('"'),
        _ => name.strip_prefix('#').and_then(|number| {
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                None => number.parse().ok(),
            };
            code.and_then(char::from_u32)
        }),
    };
    match decoded {
        Some(c) => (c.to_string(), end + 1),
        None => literal,
    }
}

/// Drops leading and trailing whitespace as Telegram does, shifting and
/// clipping the entities to the text that is left.
pub(crate) fn trim(formatted: Formatted) -> Formatted {
    let text = formatted.text.trim();
    let leading =
        utf16_len(&formatted.text[..formatted.text.len() - formatted.text.trim_start().len()]);
    let total = utf16_len(text) as u64;
    let leading = leading as u64;
    let entities = formatted
        .entities
        .into_iter()
        .filter_map(|mut e| {
            let start = offset(&e).saturating_sub(leading).min(total);
            let end = (offset(&e) + length(&e)).saturating_sub(leading).min(total);
            (end > start).then(|| {
                e["offset"] = json!(start);
                e["length"] = json!(end - start);
                e
            })
        })
        .collect();
    Formatted {
        text: text.to_owned(),
        entities,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> Formatted {
        parse(raw).unwrap_or_else(|e| panic!("{raw:?}: {e}"))
    }

    #[test]
    fn tags_become_entities_with_utf16_offsets() {
        let f = ok(
            "😀 <b>bold <i>both</i></b> &lt;&amp;&gt; <a href=\"https://x.y/?a=1&amp;b\">link</a>",
        );
        assert_eq!(f.text, "😀 bold both <&> link");
        assert_eq!(
            f.entities,
            [
                json!({"type": "bold", "offset": 3, "length": 9}),
                json!({"type": "italic", "offset": 8, "length": 4}),
                json!({"type": "text_link", "offset": 17, "length": 4, "url": "https://x.y/?a=1&b"}),
            ]
        );
    }

    #[test]
    fn pre_with_a_language_is_one_entity() {
        let f = ok("<pre><code class=\"language-rust\">fn x() {}</code></pre>");
        assert_eq!(f.text, "fn x() {}");
        assert_eq!(
            f.entities,
            [json!({"type": "pre", "offset": 0, "length": 9, "language": "rust"})]
        );
        let f = ok(
            "<span class=\"tg-spoiler\">s</span><tg-spoiler>t</tg-spoiler><blockquote expandable>q</blockquote>",
        );
        let kinds: Vec<&str> = f
            .entities
            .iter()
            .filter_map(|e| e["type"].as_str())
            .collect();
        assert_eq!(kinds, ["spoiler", "spoiler", "expandable_blockquote"]);
    }

    #[test]
    fn references_decode_and_unknown_ones_stay() {
        assert_eq!(
            ok("&#65;&#x42;&nbsp; a & b &quot;").text,
            "AB&nbsp; a & b \""
        );
    }

    #[test]
    fn errors_read_like_telegrams() {
        let cases = [
            ("a <br> b", "Unsupported start tag \"br\" at byte offset 2"),
            ("1 < 2", "Unsupported start tag \"\" at byte offset 2"),
            (
                "<b>x",
                "Can't find end tag corresponding to start tag \"b\"",
            ),
            ("x</b>", "Unexpected end tag at byte offset 1"),
            (
                "<b>x</i>",
                "Unmatched end tag at byte offset 4, expected \"</b>\", found \"</i>\"",
            ),
            ("<a href=\"x", "Unclosed start tag at byte offset 0"),
            (
                "<span>x</span>",
                "Tag \"span\" must have class \"tg-spoiler\" at byte offset 0",
            ),
        ];
        for (raw, error) in cases {
            assert_eq!(parse(raw), Err(error.to_owned()), "{raw}");
        }
    }

    #[test]
    fn trimming_shifts_entities() {
        let f = trim(ok("  <b> hi </b>  "));
        assert_eq!(f.text, "hi");
        assert_eq!(
            f.entities,
            [json!({"type": "bold", "offset": 0, "length": 2})]
        );
    }
}
