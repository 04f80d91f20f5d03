//! [`Secret`]: a string that never shows itself in `Debug`, `Display` or logs.

use serde::{Deserialize, Deserializer};
use subtle::ConstantTimeEq;

/// A secret value (token, key, password). `Debug` prints `<redacted>`; the
/// value is reachable only through [`Secret::expose`], so every place that
/// reveals it is greppable.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself. Call only where it must leave the process (an
    /// HTTP header, a file written with mode 0600).
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of characters, for policy checks such as a minimum key length.
    pub fn char_len(&self) -> usize {
        self.0.chars().count()
    }

    /// Compares with `candidate` in time that does not depend on where the
    /// two differ, so a caller cannot learn the secret byte by byte.
    pub fn ct_eq(&self, candidate: &[u8]) -> bool {
        // Lengths differing leaks only the length, which is public policy.
        self.0.as_bytes().ct_eq(candidate).into()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_are_redacted() {
        let s = Secret::new("sk-very-secret-value");
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert_eq!(format!("{s}"), "<redacted>");
        assert!(!format!("{:?}", Some(&s)).contains("very"));
    }

    #[test]
    fn constant_time_comparison() {
        let s = Secret::new("abcdef");
        assert!(s.ct_eq(b"abcdef"));
        assert!(!s.ct_eq(b"abcdeg"));
        assert!(!s.ct_eq(b"abcde"));
        assert!(!s.ct_eq(b""));
    }
}
