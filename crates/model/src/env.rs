//! [`EnvVars`]: a snapshot of environment variables (the process environment
//! merged over `HERMOD_HOME/.env`), passed explicitly to whatever reads
//! configuration so nothing reads the process environment behind its back.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};

/// The variables, and which of them were asked for (shared by clones), so
/// the loader can tell a user which of the variables they set nothing read.
#[derive(Clone, Default)]
pub struct EnvVars {
    vars: BTreeMap<String, String>,
    read: Arc<Mutex<BTreeSet<String>>>,
}

impl PartialEq for EnvVars {
    fn eq(&self, other: &Self) -> bool {
        self.vars == other.vars
    }
}

impl Eq for EnvVars {}

impl EnvVars {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a variable unless it is already set (the first writer wins, so
    /// load the highest-precedence source first).
    pub fn set_default(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.vars.entry(key.into()).or_insert_with(|| value.into());
    }

    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.vars.insert(key.into(), value.into());
    }

    /// The names of the variables set to something other than blanks.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.vars
            .iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(k, _)| k.as_str())
    }

    /// Whether anything asked for `key` (through any clone of this snapshot).
    pub fn was_read(&self, key: &str) -> bool {
        self.read
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(key)
    }

    /// The value of a variable; an empty value counts as unset.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.read
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.to_owned());
        self.vars
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    /// A boolean: `true/1/yes/on` or `false/0/no/off`, case-insensitive.
    /// Anything else is an error naming the variable.
    pub fn get_bool(&self, key: &str) -> Result<Option<bool>, String> {
        let Some(raw) = self.get(key) else {
            return Ok(None);
        };
        match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(Some(true)),
            "false" | "0" | "no" | "off" => Ok(Some(false)),
            _ => Err(format!(
                "{key}={raw:?} is not a boolean (use true or false)"
            )),
        }
    }

    /// A value parsed with `FromStr`; a bad value is an error naming the variable.
    pub fn get_parsed<T: std::str::FromStr>(&self, key: &str) -> Result<Option<T>, String> {
        let Some(raw) = self.get(key) else {
            return Ok(None);
        };
        raw.trim().parse().map(Some).map_err(|_| {
            format!(
                "{key}={raw:?}: expected {}",
                describe_type(std::any::type_name::<T>())
            )
        })
    }
}

/// A Rust type's name as a user would say what a setting needs: `u16` is
/// "a whole number from 0 to 65535". Unknown types become "a valid value".
pub fn describe_type(type_name: &str) -> String {
    let short = type_name.rsplit("::").next().unwrap_or(type_name);
    let range = |max: u64| format!("a whole number from 0 to {max}");
    match short {
        "u8" => range(u8::MAX.into()),
        "u16" => range(u16::MAX.into()),
        "u32" => range(u32::MAX.into()),
        "u64" | "usize" => "a whole number, 0 or more".to_owned(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".to_owned(),
        "f32" | "f64" => "a number".to_owned(),
        "bool" => "true or false".to_owned(),
        "char" => "a single character".to_owned(),
        "String" | "str" | "&str" => "text".to_owned(),
        _ => "a valid value".to_owned(),
    }
}

impl std::fmt::Debug for EnvVars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Values may be secrets: show only the names.
        f.debug_set().entries(self.vars.keys()).finish()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for EnvVars {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self {
            vars: iter
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            read: Arc::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_and_parsing() {
        let mut env: EnvVars = [("A", "yes"), ("N", "12"), ("E", " ")]
            .into_iter()
            .collect();
        env.set_default("A", "no");
        assert_eq!(env.get_bool("A"), Ok(Some(true)));
        assert_eq!(env.get_parsed::<u16>("N"), Ok(Some(12)));
        assert_eq!(env.get("E"), None);
        assert!(env.get_bool("N").is_err());
        assert!(env.get_parsed::<u8>("A").is_err());
        assert!(!format!("{env:?}").contains("yes"));
        let err = env.get_parsed::<u16>("A").unwrap_err();
        assert_eq!(err, r#"A="yes": expected a whole number from 0 to 65535"#);
    }

    #[test]
    fn reads_are_remembered_across_clones() {
        let env: EnvVars = [("SET", "1"), ("BLANK", " ")].into_iter().collect();
        let copy = env.clone();
        assert!(!env.was_read("SET"));
        let _ = copy.get("SET");
        let _ = copy.get("UNSET");
        assert!(env.was_read("SET") && env.was_read("UNSET"));
        assert_eq!(env.names().collect::<Vec<_>>(), ["SET"]);
    }
}
