//! Globs for single words of a command: `*` (any run of characters), `?`
//! (one character), `[abc]`, `[a-z]`, `[!abc]` (one character in or not
//! in a set), `{a,b}` (alternatives, expanded first, may nest) and `\x`
//! (`x` itself). Matching takes time linear in the word times the glob,
//! whatever the model sends.

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Char(char),
    AnyChar,
    AnyRun,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// A word glob with its alternatives expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WordGlob {
    alternatives: Vec<Vec<Item>>,
}

impl WordGlob {
    pub(crate) fn parse(glob: &str) -> Result<Self, String> {
        let expanded = expand_braces(glob)?;
        let alternatives = expanded
            .iter()
            .map(|alt| parse_items(alt))
            .collect::<Result<_, _>>()?;
        Ok(Self { alternatives })
    }

    pub(crate) fn matches(&self, word: &str) -> bool {
        let chars: Vec<char> = word.chars().collect();
        self.alternatives
            .iter()
            .any(|items| match_items(items, &chars))
    }
}

/// Brace alternatives expanded, left to right, like the shell does.
/// Braces without a top-level comma are literal.
fn expand_braces(glob: &str) -> Result<Vec<String>, String> {
    let chars: Vec<char> = glob.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '{' => {
                let mut depth = 0;
                let mut commas = Vec::new();
                let mut j = i;
                let mut close = None;
                while j < chars.len() {
                    match chars[j] {
                        '\\' => j += 1,
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                close = Some(j);
                                break;
                            }
                        }
                        ',' if depth == 1 => commas.push(j),
                        _ => {}
                    }
                    j += 1;
                }
                let Some(close) = close else {
                    return Err(format!("unclosed {{ in {glob:?} (write \\{{ for a brace)"));
                };
                if commas.is_empty() {
                    i = close + 1;
                    continue;
                }
                let prefix: String = chars[..i].iter().collect();
                let suffix: String = chars[close + 1..].iter().collect();
                let mut bounds = vec![i];
                bounds.extend(&commas);
                bounds.push(close);
                let mut out = Vec::new();
                for pair in bounds.windows(2) {
                    let middle: String = chars[pair[0] + 1..pair[1]].iter().collect();
                    out.extend(expand_braces(&format!("{prefix}{middle}{suffix}"))?);
                }
                if out.len() > 4096 {
                    return Err(format!("{glob:?} has too many alternatives"));
                }
                return Ok(out);
            }
            _ => i += 1,
        }
    }
    Ok(vec![glob.to_owned()])
}

fn parse_items(glob: &str) -> Result<Vec<Item>, String> {
    let chars: Vec<char> = glob.chars().collect();
    let mut items = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '\\' => {
                let Some(&next) = chars.get(i) else {
                    return Err(format!("{glob:?} ends with a lone \\"));
                };
                items.push(Item::Char(next));
                i += 1;
            }
            '*' => {
                if items.last() != Some(&Item::AnyRun) {
                    items.push(Item::AnyRun);
                }
            }
            '?' => items.push(Item::AnyChar),
            '[' => {
                let negated = matches!(chars.get(i), Some('!' | '^'));
                if negated {
                    i += 1;
                }
                let mut ranges = Vec::new();
                let mut first = true;
                loop {
                    let Some(&c) = chars.get(i) else {
                        return Err(format!("unclosed [ in {glob:?}"));
                    };
                    i += 1;
                    if c == ']' && !first {
                        break;
                    }
                    first = false;
                    let c = if c == '\\' {
                        let escaped = *chars
                            .get(i)
                            .ok_or_else(|| format!("unclosed [ in {glob:?}"))?;
                        i += 1;
                        escaped
                    } else {
                        c
                    };
                    if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|&e| e != ']') {
                        ranges.push((c, chars[i + 1]));
                        i += 2;
                    } else {
                        ranges.push((c, c));
                    }
                }
                items.push(Item::Class { negated, ranges });
            }
            c => items.push(Item::Char(c)),
        }
    }
    Ok(items)
}

fn item_matches(item: &Item, c: char) -> bool {
    match item {
        Item::Char(expected) => *expected == c,
        Item::AnyChar => true,
        Item::AnyRun => false,
        Item::Class { negated, ranges } => {
            ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
        }
    }
}

/// Wildcard matching that backtracks only to the last `*`: O(word ×
/// glob) at worst.
fn match_items(items: &[Item], word: &[char]) -> bool {
    let (mut p, mut w) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while w < word.len() {
        if p < items.len() && items[p] == Item::AnyRun {
            star = Some((p, w));
            p += 1;
        } else if p < items.len() && item_matches(&items[p], word[w]) {
            p += 1;
            w += 1;
        } else if let Some((sp, sw)) = star {
            p = sp + 1;
            w = sw + 1;
            star = Some((sp, sw + 1));
        } else {
            return false;
        }
    }
    items[p..].iter().all(|item| *item == Item::AnyRun)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(glob: &str, word: &str) -> bool {
        WordGlob::parse(glob).unwrap().matches(word)
    }

    #[test]
    fn wildcards_classes_and_alternatives() {
        assert!(m("rm", "rm") && !m("rm", "rmdir"));
        assert!(m("mkfs*", "mkfs.ext4") && m("*", ""));
        assert!(m("-[!-]*r*", "-fr") && !m("-[!-]*r*", "--force"));
        assert!(m("{-r*,-[!-]*r*}", "-rf"));
        assert!(m("/dev/{sd,nvme}*", "/dev/nvme0n1") && !m("/dev/{sd,nvme}*", "/dev/null"));
        assert!(m("{a,b{c,d}}x", "bdx") && !m("{a,b{c,d}}x", "bx"));
        assert!(m("[a-c]?", "bz") && !m("[a-c]?", "dz"));
        assert!(m("\\{", "{") && m("{}", "{}"));
        assert!(m("*a*b*c", "xxaxxbxxc") && !m("*a*b*c", "xxaxxbxx"));
        assert!(m("?", "é"));
    }

    #[test]
    fn bad_globs_are_reported() {
        assert!(WordGlob::parse("{a,b").is_err());
        assert!(WordGlob::parse("[ab").is_err());
        assert!(WordGlob::parse("a\\").is_err());
    }

    #[test]
    fn long_words_match_in_linear_time() {
        let word = "a".repeat(100_000);
        assert!(!m("*a*a*a*b", &word));
    }
}
