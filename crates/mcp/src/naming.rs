//! The names the model sees for a server's tools, as Hermes makes them:
//! `mcp__<server>__<tool>`, each part with every character outside
//! `[A-Za-z0-9_]` turned into `_` (so `my-api` / `list-items.v2` becomes
//! `mcp__my_api__list_items_v2`). The double underscore keeps the
//! server/tool boundary readable when either part has underscores.
//!
//! Model APIs refuse function names over 64 characters (OpenAI's pattern
//! is `^[a-zA-Z0-9_-]{1,64}$`), so a longer name is cut to 55 characters
//! and given `_` and 8 hex digits of a hash of the whole name: stable
//! across restarts, and two long names that share a beginning stay apart.

/// What every MCP tool name starts with.
pub const PREFIX: &str = "mcp__";
/// The longest function name model APIs accept.
pub const MAX_LEN: usize = 64;

/// `value` with every character outside `[A-Za-z0-9_]` replaced by `_`.
pub fn sanitize(value: &str) -> String {
    value
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The model's name for `server`'s tool `tool`.
pub fn tool_name(server: &str, tool: &str) -> String {
    let full = format!("{PREFIX}{}__{}", sanitize(server), sanitize(tool));
    if full.len() <= MAX_LEN {
        return full;
    }
    let hash = format!("{:08x}", fnv1a(full.as_bytes()));
    // ASCII only after sanitizing, so any byte index is a char boundary.
    format!("{}_{hash}", &full[..MAX_LEN - hash.len() - 1])
}

/// 32-bit FNV-1a: small, stable across versions and platforms.
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |hash, &b| {
        (hash ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_hermes() {
        assert_eq!(
            tool_name("github", "create_issue"),
            "mcp__github__create_issue"
        );
        assert_eq!(
            tool_name("my-api", "list-items.v2"),
            "mcp__my_api__list_items_v2"
        );
        assert_eq!(tool_name("ünï", "a b"), "mcp___n___a_b");
    }

    #[test]
    fn long_names_are_capped_stably_and_stay_apart() {
        let long = "x".repeat(80);
        let a = tool_name("server", &format!("{long}_a"));
        let b = tool_name("server", &format!("{long}_b"));
        assert_eq!(a.len(), MAX_LEN);
        assert_eq!(b.len(), MAX_LEN);
        assert_ne!(a, b);
        assert_eq!(a, tool_name("server", &format!("{long}_a")));
        assert!(a.starts_with("mcp__server__xxx"));
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        let exact = "y".repeat(MAX_LEN - "mcp__s__".len());
        assert_eq!(tool_name("s", &exact).len(), MAX_LEN);
        assert!(tool_name("s", &exact).ends_with('y'));
    }
}
