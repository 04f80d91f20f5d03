//! [`EnvVars`]: a snapshot of environment variables (the process environment
//! merged over `HERMOD_HOME/.env`), passed explicitly to whatever reads
//! configuration so nothing reads the process environment behind its back.

use std::collections::BTreeMap;

#[derive(Clone, Default, PartialEq, Eq)]
pub struct EnvVars(BTreeMap<String, String>);

impl EnvVars {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a variable unless it is already set (the first writer wins, so
    /// load the highest-precedence source first).
    pub fn set_default(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.0.entry(key.into()).or_insert_with(|| value.into());
    }

    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.0.insert(key.into(), value.into());
    }

    /// The value of a variable; an empty value counts as unset.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
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
                "{key}={raw:?} is not a valid {}",
                std::any::type_name::<T>()
            )
        })
    }
}

impl std::fmt::Debug for EnvVars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Values may be secrets: show only the names.
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for EnvVars {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
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
    }
}
