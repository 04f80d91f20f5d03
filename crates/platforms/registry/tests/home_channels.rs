//! Hermes' home channel names the platforms declare: email's and
//! Matrix's variables of their own, IRC's first channel as its default.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use hermod_model::EnvVars;
use hermod_platforms::{PlatformsConfig, home_channel_variables};

#[test]
fn email_and_matrix_name_hermes_variables_for_their_home_channel() {
    let variables = home_channel_variables();
    assert!(
        variables.contains(&("email", "EMAIL_HOME_ADDRESS")),
        "{variables:?}"
    );
    assert!(
        variables.contains(&("matrix", "MATRIX_HOME_ROOM")),
        "{variables:?}"
    );
}

#[test]
fn ircs_home_channel_is_its_first_channel_when_enabled() {
    let mut platforms = PlatformsConfig::default();
    assert!(platforms.default_home_channels().is_empty());
    let env: EnvVars = [
        ("IRC_SERVER", "irc.example.org"),
        ("IRC_CHANNEL", "#Hermod,#other"),
    ]
    .into_iter()
    .collect();
    assert!(platforms.apply_env(&env).is_empty());
    assert_eq!(
        platforms.default_home_channels(),
        [("irc", "#hermod".to_owned())]
    );
}
