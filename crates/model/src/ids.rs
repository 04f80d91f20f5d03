//! Identifier newtypes and their validation.

use serde::{Deserialize, Serialize};

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdError {
    Empty,
    TooLong { max: usize },
    ControlCharacter,
    NotPathSafe,
}

impl std::fmt::Display for IdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IdError::Empty => f.write_str("the id is empty"),
            IdError::TooLong { max } => write!(f, "the id is longer than {max} characters"),
            IdError::ControlCharacter => f.write_str("the id contains a control character"),
            IdError::NotPathSafe => f.write_str(
                "the id contains '/', '\\', '..' or a drive letter (it must be path-safe)",
            ),
        }
    }
}

impl std::error::Error for IdError {}

/// A stored conversation's id. Gateway-made ids look like
/// `20261121_045332_ed0abc54`; clients of the API server may choose their own,
/// which are validated by [`SessionId::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(String);

impl SessionId {
    /// Longest id accepted, in characters (the Hermes API server's limit).
    pub const MAX_LEN: usize = 256;

    /// Validates an id that came from outside (a header, a CLI argument).
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        if raw.is_empty() {
            return Err(IdError::Empty);
        }
        if raw.chars().count() > Self::MAX_LEN {
            return Err(IdError::TooLong { max: Self::MAX_LEN });
        }
        if raw.chars().any(char::is_control) {
            return Err(IdError::ControlCharacter);
        }
        let bytes = raw.as_bytes();
        let drive_letter = bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':';
        if raw.contains('/') || raw.contains('\\') || raw.contains("..") || drive_letter {
            return Err(IdError::NotPathSafe);
        }
        Ok(Self(raw.to_owned()))
    }

    /// Builds the gateway's own id format from a UTC timestamp already
    /// formatted as `YYYYmmdd_HHMMSS` and 32 random bits.
    pub fn from_parts(timestamp: &str, random: u32) -> Self {
        Self(format!("{timestamp}_{random:08x}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_ids() {
        for ok in [
            "abc",
            "20261121_045332_ed0abc54",
            "my-session.v2",
            "user@host:1",
        ] {
            assert_eq!(SessionId::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn refuses_unsafe_ids() {
        assert_eq!(SessionId::parse(""), Err(IdError::Empty));
        assert_eq!(SessionId::parse("a\nb"), Err(IdError::ControlCharacter));
        assert_eq!(SessionId::parse("a\0"), Err(IdError::ControlCharacter));
        for bad in ["../x", "a/b", "a\\b", "..", "C:evil"] {
            assert_eq!(SessionId::parse(bad), Err(IdError::NotPathSafe), "{bad}");
        }
        let long = "x".repeat(257);
        assert_eq!(SessionId::parse(&long), Err(IdError::TooLong { max: 256 }));
        assert!(SessionId::parse(&"x".repeat(256)).is_ok());
    }

    #[test]
    fn gateway_format() {
        let id = SessionId::from_parts("20261121_045332", 0xed0abc54);
        assert_eq!(id.as_str(), "20261121_045332_ed0abc54");
        assert_eq!(SessionId::from_parts("t", 1).as_str(), "t_00000001");
    }
}
