//! [`EnvSettings`]: a platform's environment variables declared once, each
//! beside the field it sets, so that applying them, listing them and
//! checking their limits all follow from the same lines and cannot drift
//! apart.
//!
//! A platform implements [`EnvSettings::env`] with one line per variable,
//! in the order they apply:
//!
//! ```
//! use hermod_adapter_kit::config::{Env, EnvSettings, apply_env, check_limits, env_vars};
//! use hermod_model::{EnvVars, Secret};
//!
//! #[derive(Clone, Default)]
//! struct ExampleConfig {
//!     token: Option<Secret>,
//!     channels: Vec<String>,
//!     request_timeout_secs: u64,
//! }
//!
//! impl EnvSettings for ExampleConfig {
//!     fn env(&mut self, env: &mut Env<'_>) {
//!         env.secret("EXAMPLE_TOKEN", &mut self.token);
//!         env.list("EXAMPLE_CHANNELS", &mut self.channels);
//!         env.seconds("EXAMPLE_REQUEST_TIMEOUT", &mut self.request_timeout_secs)
//!             .at_least(1);
//!     }
//! }
//!
//! let mut config = ExampleConfig::default();
//! let vars: EnvVars = [("EXAMPLE_CHANNELS", "a, b")].into_iter().collect();
//! apply_env(&mut config, &vars).unwrap();
//! assert_eq!(config.channels, ["a", "b"]);
//! assert_eq!(
//!     env_vars::<ExampleConfig>(),
//!     ["EXAMPLE_TOKEN", "EXAMPLE_CHANNELS", "EXAMPLE_REQUEST_TIMEOUT"]
//! );
//! assert_eq!(
//!     check_limits(&config).unwrap_err(),
//!     "EXAMPLE_REQUEST_TIMEOUT must be at least 1 second"
//! );
//! ```
//!
//! The declaration runs in one of three ways: [`apply_env`] reads each
//! variable into its field and stops at the first bad one; [`env_vars`]
//! only collects the names (for `--help`, `config check` and `doctor`);
//! [`check_limits`] reads nothing and checks each field's value, wherever
//! it came from, against the limits declared on it. The declaration must
//! therefore name every variable whatever the values are: no `if` around
//! a line.
//!
//! Values are trimmed; a blank variable counts as unset ([`EnvVars::get`]).
//! Errors name the variable and, for a bad number, flag or choice, the
//! value given; a secret is never parsed, so its value never reaches an
//! error.

use super::choice::Choice;
use crate::webhook::WebhookConfig;
use hermod_model::{EnvVars, Secret};
use std::fmt::Display;
use std::str::FromStr;

/// A configuration whose environment variables are declared in one place.
pub trait EnvSettings {
    /// Declares every variable this configuration reads, each with the
    /// field it sets, in the order they apply.
    fn env(&mut self, env: &mut Env<'_>);
}

/// Applies the variables `config` declares from `vars`, in order. The first
/// bad value is the error, naming its variable; nothing after it is read.
pub fn apply_env<C: EnvSettings + ?Sized>(config: &mut C, vars: &EnvVars) -> Result<(), String> {
    let mut env = Env::new(Mode::Apply(vars));
    config.env(&mut env);
    env.finish()
}

/// The names of the variables `C` declares, in order.
pub fn env_vars<C: EnvSettings + Default>() -> Vec<&'static str> {
    let mut env = Env::new(Mode::List);
    C::default().env(&mut env);
    env.names
}

/// Checks `config`'s values against the limits its declaration sets
/// ([`Limits::at_least`], [`Limits::at_most`]); the first value out of
/// bounds is the error, naming the variable.
pub fn check_limits<C: EnvSettings + Clone>(config: &C) -> Result<(), String> {
    let mut env = Env::new(Mode::Check);
    // The declaration takes `&mut self` so that applying can write; a
    // check writes nothing, and runs on a copy so `config` can stay shared.
    config.clone().env(&mut env);
    env.finish()
}

/// What a declaration is run for.
#[derive(Debug, Clone, Copy)]
enum Mode<'a> {
    Apply(&'a EnvVars),
    List,
    Check,
}

/// The other side of [`EnvSettings::env`]: one method per kind of
/// setting, each taking the variable's name and the field it sets.
#[derive(Debug)]
pub struct Env<'a> {
    mode: Mode<'a>,
    /// Every name declared so far.
    names: Vec<&'static str>,
    /// The first problem; once set, nothing more is read or checked.
    error: Option<String>,
}

impl<'a> Env<'a> {
    fn new(mode: Mode<'a>) -> Self {
        Self {
            mode,
            names: Vec::new(),
            error: None,
        }
    }

    fn finish(self) -> Result<(), String> {
        self.error.map_or(Ok(()), Err)
    }

    /// Declares `name` and, when applying and nothing failed before,
    /// reads it with `read`: `Some` is the new value, an error is kept as
    /// the first problem.
    fn read<T>(
        &mut self,
        name: &'static str,
        read: impl FnOnce(&EnvVars) -> Result<Option<T>, String>,
    ) -> Option<T> {
        self.names.push(name);
        let Mode::Apply(vars) = self.mode else {
            return None;
        };
        if self.error.is_some() {
            return None;
        }
        read(vars).unwrap_or_else(|error| {
            self.error = Some(error);
            None
        })
    }

    /// A secret (a token, a signing secret), trimmed. The field is an
    /// `Option<Secret>` or a `Secret`.
    pub fn secret<S: From<Secret>>(&mut self, name: &'static str, field: &mut S) {
        if let Some(value) = self.read(name, |vars| {
            Ok(vars.get(name).map(|raw| Secret::new(raw.trim())))
        }) {
            *field = value.into();
        }
    }

    /// Text (a URL, a host name), trimmed. The field is a `String` or an
    /// `Option<String>`.
    pub fn text<S: From<String>>(&mut self, name: &'static str, field: &mut S) {
        if let Some(value) = self.read(name, |vars| {
            Ok(vars.get(name).map(|raw| raw.trim().to_owned()))
        }) {
            *field = value.into();
        }
    }

    /// A comma-separated list (ids, names), read as
    /// [`split_list`](hermod_model::split_list) reads it.
    pub fn list(&mut self, name: &'static str, field: &mut Vec<String>) {
        if let Some(value) = self.read(name, |vars| {
            Ok(vars.get(name).map(hermod_model::split_list))
        }) {
            *field = value;
        }
    }

    /// A switch: `true/1/yes/on` or `false/0/no/off`
    /// ([`EnvVars::get_bool`]).
    pub fn flag(&mut self, name: &'static str, field: &mut bool) {
        if let Some(value) = self.read(name, |vars| vars.get_bool(name)) {
            *field = value;
        }
    }

    /// One of a few words ([`Choice`]); anything else is an error that
    /// lists them.
    pub fn choice<T: Choice>(&mut self, name: &'static str, field: &mut T) {
        let parse = |vars: &EnvVars| match vars.get(name) {
            None => Ok(None),
            Some(raw) => T::parse(raw)
                .map(Some)
                .ok_or_else(|| format!("{name}={raw:?} must be {}", T::EXPECTED)),
        };
        if let Some(value) = self.read(name, parse) {
            *field = value;
        }
    }

    /// A number (a size, a count, a port). The field is a number or an
    /// `Option` of one; limits on it follow ([`Limits`]).
    pub fn number<N: Number>(&mut self, name: &'static str, field: &mut N) -> Limits<'_, N::Value> {
        if let Some(value) = self.read(name, |vars| vars.get_parsed::<N::Value>(name)) {
            field.set(value);
        }
        self.limits(name, field.get(), Unit::None)
    }

    /// A number of seconds; as [`Env::number`], with the unit in the
    /// limits' messages.
    pub fn seconds(&mut self, name: &'static str, field: &mut u64) -> Limits<'_, u64> {
        if let Some(value) = self.read(name, |vars| vars.get_parsed::<u64>(name)) {
            *field = value;
        }
        self.limits(name, Some(*field), Unit::Seconds)
    }

    /// The variables of a part of the configuration that declares its own
    /// (the shared webhook listener's, say), at this point of the order.
    pub fn nested<S: EnvSettings + ?Sized>(&mut self, part: &mut S) {
        part.env(self);
    }

    fn limits<T>(&mut self, name: &'static str, value: Option<T>, unit: Unit) -> Limits<'_, T> {
        let checking = matches!(self.mode, Mode::Check) && self.error.is_none();
        Limits {
            name,
            value: value.filter(|_| checking),
            unit,
            error: &mut self.error,
        }
    }
}

/// The bounds of a number just declared, checked by [`check_limits`] (not
/// when applying: a value from `config.yaml` is checked the same way, and
/// the message names the variable either way). An unset optional number
/// passes.
#[derive(Debug)]
pub struct Limits<'e, T> {
    name: &'static str,
    /// The value to check: `None` when not checking or unset.
    value: Option<T>,
    unit: Unit,
    error: &'e mut Option<String>,
}

impl<T: PartialOrd + Display + Copy> Limits<'_, T> {
    /// The value must be `min` or more.
    pub fn at_least(self, min: T) -> Self {
        self.require(|value| value >= min, "at least", min)
    }

    /// The value must be `max` or less.
    pub fn at_most(self, max: T) -> Self {
        self.require(|value| value <= max, "at most", max)
    }

    fn require(self, ok: impl FnOnce(T) -> bool, relation: &str, bound: T) -> Self {
        match self.value {
            Some(value) if !ok(value) => {
                *self.error = Some(format!(
                    "{} must be {relation} {}",
                    self.name,
                    self.unit.amount(bound)
                ));
                Self {
                    value: None,
                    ..self
                }
            }
            _ => self,
        }
    }
}

/// What a number counts, for the messages of its limits.
#[derive(Debug, Clone, Copy)]
enum Unit {
    None,
    Seconds,
}

impl Unit {
    /// `300 seconds`, `1 second`, or the bare number.
    fn amount(self, n: impl Display) -> String {
        let n = n.to_string();
        match self {
            Unit::None => n,
            Unit::Seconds if n == "1" => "1 second".to_owned(),
            Unit::Seconds => format!("{n} seconds"),
        }
    }
}

/// A field [`Env::number`] can set: a number, or an `Option` of one
/// (unset until configured).
pub trait Number {
    /// The number read from the variable.
    type Value: FromStr + PartialOrd + Display + Copy;
    fn set(&mut self, value: Self::Value);
    /// The current value; `None` when unset.
    fn get(&self) -> Option<Self::Value>;
}

macro_rules! numbers {
    ($($t:ty),*) => {$(
        impl Number for $t {
            type Value = $t;
            fn set(&mut self, value: $t) {
                *self = value;
            }
            fn get(&self) -> Option<$t> {
                Some(*self)
            }
        }

        impl Number for Option<$t> {
            type Value = $t;
            fn set(&mut self, value: $t) {
                *self = Some(value);
            }
            fn get(&self) -> Option<$t> {
                *self
            }
        }
    )*};
}

numbers!(u8, u16, u32, u64, usize, i32, i64);

/// `WEBHOOK_HOST` and `WEBHOOK_PORT`, which every webhook platform nests
/// in its own declaration ([`Env::nested`]).
impl EnvSettings for WebhookConfig {
    fn env(&mut self, env: &mut Env<'_>) {
        env.text("WEBHOOK_HOST", &mut self.host);
        env.number("WEBHOOK_PORT", &mut self.port);
    }
}

#[cfg(test)]
mod tests;
