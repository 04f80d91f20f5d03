//! `hermod web token`: a sign-in token for the web page the API server
//! serves, so a browser can be signed in without being given the key.
//!
//! The token is `hermod-web.<expiry>.<mac>`: `<expiry>` a Unix time in
//! seconds, `<mac>` the lower-case hex HMAC-SHA256 of `hermod-web.<expiry>`
//! under the chat endpoint's key. The server checks it with the key alone
//! (the API server's `web::token`), so nothing is stored; a token works
//! until it expires, and changing the key revokes every token.

use crate::commands::{out, utc};
use crate::config;
use crate::home::{self, Create};
use clap::Subcommand;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The first field of every token.
const PREFIX: &str = "hermod-web";

#[derive(Debug, Clone, Copy, Subcommand)]
pub enum WebAction {
    /// Print a sign-in token for the web page (and the page's address):
    /// paste it into the page instead of the API key. It expires.
    Token {
        /// How long the token stays valid, in hours (at most 720, 30 days).
        #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u64).range(1..=720))]
        hours: u64,
    },
}

pub fn run(action: WebAction) -> anyhow::Result<()> {
    match action {
        WebAction::Token { hours } => token(hours),
    }
}

fn token(hours: u64) -> anyhow::Result<()> {
    let process = config::process_env();
    let home = home::open(&process, Create::No)?;
    let config = config::load(&home, &process)?;
    let Some(endpoint) = config.platforms.chat_endpoint() else {
        anyhow::bail!(
            "the web page is served by the API server, which is disabled or has no key yet: \
             enable the API server, then start the gateway once (it generates its key into \
             HERMOD_HOME/.env) or set its key yourself; `hermod config check` shows its settings"
        );
    };
    let now_ms = hermod_core::now_ms();
    let now = u64::try_from(now_ms / 1000).unwrap_or_default();
    let expiry = now + hours * 3600;
    let page = endpoint
        .base_url
        .strip_suffix("/v1")
        .unwrap_or(&endpoint.base_url);
    let token = sign(endpoint.key.expose().as_bytes(), expiry);
    let until = utc(i64::try_from(expiry)
        .unwrap_or(i64::MAX)
        .saturating_mul(1000));
    out(format_args!(
        "Open {page}/ and sign in with this token (valid until {until}):"
    ));
    out("");
    out(token);
    Ok(())
}

/// The token for `key`, valid until `expiry` (Unix seconds).
fn sign(key: &[u8], expiry: u64) -> String {
    let signed = format!("{PREFIX}.{expiry}");
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(signed.as_bytes());
    format!(
        "{signed}.{}",
        hermod_model::to_hex(&mac.finalize().into_bytes())
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_token_is_the_hmac_of_its_prefix_and_expiry() {
        // printf 'hermod-web.1800003600' |
        //   openssl dgst -sha256 -hmac test-key-0123456789abcdef
        assert_eq!(
            super::sign(b"test-key-0123456789abcdef", 1_800_003_600),
            "hermod-web.1800003600.139d723a41fdc4b7fe476e7373fb075e1a01bd42994ee81ec20f62a7d45c6dba"
        );
    }
}
