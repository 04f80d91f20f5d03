//! Validators for rendered output, modelled on how the platforms parse it.

/// Checks Telegram Bot API HTML: only the tags Telegram accepts, each
/// closed in order, with the attributes it reads; `&` only in the entities
/// it decodes; no bare `<` or `>`; nothing inside `<code>` or `<pre>` but
/// one `<code class="language-…">` directly in a `<pre>`; no nested quotes
/// or links.
pub fn check_telegram_html(html: &str) -> Result<(), String> {
    let mut open: Vec<String> = Vec::new();
    for token in tokens(html)? {
        match token {
            Token::Text => {}
            Token::Close(name) => match open.pop() {
                Some(top) if top == name => {}
                top => return Err(format!("</{name}> closes {top:?}")),
            },
            Token::Open(name, attributes) => {
                let allowed = [
                    "b",
                    "i",
                    "u",
                    "s",
                    "code",
                    "pre",
                    "a",
                    "blockquote",
                    "tg-spoiler",
                ];
                if !allowed.contains(&name.as_str()) {
                    return Err(format!("<{name}> is not a Telegram tag"));
                }
                let parent = open.last().map(String::as_str);
                match (name.as_str(), attributes.as_slice()) {
                    ("a", [(attribute, _)]) if attribute == "href" => {}
                    ("code", [(attribute, value)])
                        if attribute == "class" && value.starts_with("language-") =>
                    {
                        if parent != Some("pre") {
                            return Err("a code language outside <pre>".into());
                        }
                    }
                    (_, []) => {}
                    _ => return Err(format!("unexpected attributes on <{name}>")),
                }
                if matches!(parent, Some("code")) || (parent == Some("pre") && name != "code") {
                    return Err(format!("<{name}> inside <{}>", parent.unwrap_or_default()));
                }
                if (name == "a" || name == "blockquote") && open.contains(&name) {
                    return Err(format!("nested <{name}>"));
                }
                open.push(name);
            }
        }
    }
    match open.last() {
        None => Ok(()),
        Some(name) => Err(format!("<{name}> is never closed")),
    }
}

/// Checks Matrix HTML: the tags this crate emits, balanced, `<br>` and
/// `<hr>` void, text and attribute values escaped.
pub fn check_matrix_html(html: &str) -> Result<(), String> {
    let elements = [
        "p",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "strong",
        "em",
        "del",
        "code",
        "pre",
        "a",
        "ul",
        "ol",
        "li",
        "blockquote",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "sup",
        "sub",
        "dl",
        "dt",
        "dd",
    ];
    let mut open: Vec<String> = Vec::new();
    for token in tokens(html)? {
        match token {
            Token::Text => {}
            Token::Open(name, _) if name == "br" || name == "hr" => {}
            Token::Open(name, attributes) => {
                if !elements.contains(&name.as_str()) {
                    return Err(format!("unexpected <{name}>"));
                }
                for (attribute, _) in &attributes {
                    let expected = match name.as_str() {
                        "a" => "href",
                        "ol" => "start",
                        "code" => "class",
                        _ => "",
                    };
                    if attribute != expected {
                        return Err(format!("unexpected {attribute} on <{name}>"));
                    }
                }
                open.push(name);
            }
            Token::Close(name) => match open.pop() {
                Some(top) if top == name => {}
                top => return Err(format!("</{name}> closes {top:?}")),
            },
        }
    }
    match open.last() {
        None => Ok(()),
        Some(name) => Err(format!("<{name}> is never closed")),
    }
}

enum Token {
    Text,
    Open(String, Vec<(String, String)>),
    Close(String),
}

/// Splits HTML into tags and text, rejecting bare `<`, `>`, `&`, and
/// attribute values that are not double-quoted and escaped.
fn tokens(html: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut rest = html;
    while let Some(c) = rest.chars().next() {
        match c {
            '&' => {
                let entity = ["&amp;", "&lt;", "&gt;", "&quot;"]
                    .into_iter()
                    .find(|e| rest.starts_with(e))
                    .ok_or_else(|| format!("bare & at {:?}", head(rest)))?;
                rest = &rest[entity.len()..];
                tokens.push(Token::Text);
            }
            '>' => return Err(format!("bare > at {:?}", head(rest))),
            '<' => {
                let end = rest
                    .find('>')
                    .ok_or_else(|| format!("unclosed tag at {:?}", head(rest)))?;
                let tag = &rest[1..end];
                rest = &rest[end + 1..];
                tokens.push(parse_tag(tag)?);
            }
            _ => rest = &rest[c.len_utf8()..],
        }
    }
    Ok(tokens)
}

fn parse_tag(tag: &str) -> Result<Token, String> {
    if let Some(name) = tag.strip_prefix('/') {
        if !is_name(name) {
            return Err(format!("bad end tag <{tag}>"));
        }
        return Ok(Token::Close(name.to_owned()));
    }
    let (name, mut attributes_text) = tag.split_once(' ').unwrap_or((tag, ""));
    if !is_name(name) {
        return Err(format!("bad tag <{tag}>"));
    }
    let mut attributes = Vec::new();
    while !attributes_text.is_empty() {
        let (attribute, after) = attributes_text
            .split_once("=\"")
            .ok_or_else(|| format!("bad attribute in <{tag}>"))?;
        let (value, after) = after
            .split_once('"')
            .ok_or_else(|| format!("unterminated attribute in <{tag}>"))?;
        if value.contains('<') || tokens(value).is_err() {
            return Err(format!("unescaped attribute value in <{tag}>"));
        }
        attributes.push((attribute.to_owned(), value.to_owned()));
        attributes_text = after.strip_prefix(' ').unwrap_or(after);
    }
    Ok(Token::Open(name.to_owned(), attributes))
}

fn is_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

fn head(text: &str) -> String {
    text.chars().take(20).collect()
}

/// The characters MarkdownV2 reserves outside entities.
const RESERVED: &str = "_*[]()~`>#+-=|{}.!";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entity {
    Bold,
    Italic,
    Underline,
    Strike,
    Spoiler,
    Link,
    Code,
    Pre,
}

/// Checks Telegram MarkdownV2 the way the Bot API parses it: every
/// reserved character outside entities is escaped or starts or ends an
/// entity, entities nest properly and are all closed, `>` only starts a
/// quote line, a quote never ends inside an inline entity, and escapes
/// are exactly the ones the format asks for (`\` before a reserved
/// character or `\`; in code only before `` ` `` and `\`; in a link URL only
/// before `)` and `\`).
pub fn check_mdv2(text: &str) -> Result<(), String> {
    let chars: Vec<char> = text.chars().collect();
    let at = |i: usize| chars.get(i).copied();
    let context = |i: usize| {
        chars
            .iter()
            .skip(i.saturating_sub(10))
            .take(20)
            .collect::<String>()
    };
    let mut stack: Vec<Entity> = Vec::new();
    let mut line_start = true;
    let mut in_quote = false;
    let mut i = 0;
    while let Some(c) = at(i) {
        let top = stack.last().copied();
        if c == '\\' {
            let escaped = at(i + 1).ok_or("a trailing backslash")?;
            let allowed = match top {
                Some(Entity::Code | Entity::Pre) => escaped == '`' || escaped == '\\',
                _ => RESERVED.contains(escaped) || escaped == '\\',
            };
            if !allowed {
                return Err(format!(
                    "needless escape of {escaped:?} at {:?}",
                    context(i)
                ));
            }
            line_start = false;
            i += 2;
            continue;
        }
        match top {
            Some(Entity::Code) => {
                if c == '`' {
                    stack.pop();
                }
                i += 1;
                continue;
            }
            Some(Entity::Pre) => {
                if c == '`' {
                    if at(i + 1) == Some('`') && at(i + 2) == Some('`') {
                        stack.pop();
                        i += 3;
                        line_start = false;
                        continue;
                    }
                    return Err(format!("unescaped ` in pre at {:?}", context(i)));
                }
                i += 1;
                continue;
            }
            _ => {}
        }
        match c {
            '\n' => {
                if in_quote && at(i + 1) != Some('>') {
                    if !stack.is_empty() {
                        return Err(format!("quote ends inside {stack:?} at {:?}", context(i)));
                    }
                    in_quote = false;
                }
                line_start = true;
                i += 1;
                continue;
            }
            '\r' => {
                i += 1;
                continue;
            }
            '>' if line_start => {
                if !in_quote && !stack.is_empty() {
                    return Err(format!("quote starts inside {stack:?}"));
                }
                in_quote = true;
            }
            '*' => toggle(&mut stack, Entity::Bold)?,
            '~' => toggle(&mut stack, Entity::Strike)?,
            '_' => {
                if top == Some(Entity::Italic) && at(i + 1) != Some('_') {
                    stack.pop();
                } else if at(i + 1) == Some('_') {
                    toggle(&mut stack, Entity::Underline)?;
                    i += 1;
                } else {
                    toggle(&mut stack, Entity::Italic)?;
                }
            }
            '|' if at(i + 1) == Some('|') => {
                toggle(&mut stack, Entity::Spoiler)?;
                i += 1;
            }
            '[' => stack.push(Entity::Link),
            ']' if top == Some(Entity::Link) => {
                stack.pop();
                if at(i + 1) != Some('(') {
                    return Err(format!("a link without a URL at {:?}", context(i)));
                }
                i += 2;
                loop {
                    match at(i) {
                        None => return Err("an unterminated link URL".into()),
                        Some(')') => break,
                        Some('\\') => {
                            if !matches!(at(i + 1), Some(')' | '\\')) {
                                return Err(format!("needless escape in URL at {:?}", context(i)));
                            }
                            i += 2;
                        }
                        Some(_) => i += 1,
                    }
                }
            }
            '`' => {
                if at(i + 1) == Some('`') && at(i + 2) == Some('`') {
                    i += 3;
                    while at(i).is_some_and(|c| !c.is_whitespace() && c != '`') {
                        i += 1;
                    }
                    if at(i) == Some('\n') {
                        i += 1;
                    }
                    stack.push(Entity::Pre);
                    continue;
                }
                stack.push(Entity::Code);
            }
            c if RESERVED.contains(c) => {
                return Err(format!("unescaped {c:?} at {:?}", context(i)));
            }
            _ => {}
        }
        line_start = false;
        i += 1;
    }
    match stack.last() {
        None => Ok(()),
        Some(entity) => Err(format!("{entity:?} is never closed")),
    }
}

fn toggle(stack: &mut Vec<Entity>, entity: Entity) -> Result<(), String> {
    if stack.last() == Some(&entity) {
        stack.pop();
    } else if stack.contains(&entity) {
        return Err(format!("{entity:?} closed across {stack:?}"));
    } else {
        stack.push(entity);
    }
    Ok(())
}

/// Checks Slack mrkdwn: `&` only in `&amp;`, `&lt;`, `&gt;`; `<` only
/// opening a `<url>` or `<url|text>` link to an absolute URL; `>` only
/// closing a link or as the quote marker at the start of a line.
pub fn check_slack(text: &str) -> Result<(), String> {
    let mut rest = text;
    let mut line_start = true;
    while let Some(c) = rest.chars().next() {
        match c {
            '&' => {
                let entity = ["&amp;", "&lt;", "&gt;"]
                    .into_iter()
                    .find(|e| rest.starts_with(e))
                    .ok_or_else(|| format!("bare & at {:?}", head(rest)))?;
                rest = &rest[entity.len()..];
            }
            '<' => {
                let end = rest
                    .find('>')
                    .ok_or_else(|| format!("unclosed link at {:?}", head(rest)))?;
                let link = &rest[1..end];
                let url = link.split_once('|').map_or(link, |(url, _)| url);
                // RFC 3986: a letter, then letters, digits, `+`, `-`, `.`
                // (CommonMark autolinks take any such scheme).
                let scheme_ok = url.split_once(':').is_some_and(|(scheme, _)| {
                    scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                        && scheme
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
                });
                if !scheme_ok || link.contains(['<', '\n']) || url.contains(' ') {
                    return Err(format!("bad link <{link}>"));
                }
                rest = &rest[end + 1..];
            }
            '>' if line_start => rest = &rest[1..],
            '>' => return Err(format!("bare > at {:?}", head(rest))),
            _ => rest = &rest[c.len_utf8()..],
        }
        line_start = c == '\n';
    }
    Ok(())
}
