//! Opening logged-in IMAP and SMTP sessions: TCP through the kit's
//! [`tls`](hermod_adapter_kit::tls) (TLS from the first byte, STARTTLS, or
//! plain when `EMAIL_*_SECURITY=none`), then greeting, capabilities and
//! login.

use crate::config::{EmailConfig, Mode};
use crate::error::EmailError;
use crate::imap::Imap;
use crate::smtp::Smtp;
use hermod_adapter_kit::tls::{Stream, Tls};

/// The TLS settings of `config` (its extra CA file).
pub(crate) fn tls(config: &EmailConfig) -> Result<Tls, EmailError> {
    let ca = config.ca_file.as_deref().map(std::path::Path::new);
    Tls::new(ca).map_err(EmailError::from)
}

/// A logged-in IMAP session.
pub(crate) async fn imap(
    config: &EmailConfig,
    tls: &Tls,
    max_literal: usize,
) -> Result<Imap<Stream>, EmailError> {
    let host = config.imap_host();
    let timeout = config.timeout();
    let mode = config.imap_mode();
    let first = (mode == Mode::Tls).then_some(tls);
    let stream = Stream::connect(host, config.imap_port, first, timeout).await?;
    let mut imap = Imap::greet(stream, timeout, max_literal).await?;
    if mode == Mode::Starttls {
        imap.capability().await?;
        let plain = imap.starttls().await?;
        let secured = plain.start_tls(tls, host, timeout).await?;
        imap = Imap::resume(secured, timeout, max_literal);
    }
    imap.capability().await?;
    imap.login(&config.login(), &config.password()).await?;
    // What is offered after login (IDLE) may differ from before.
    imap.capability().await?;
    Ok(imap)
}

/// A logged-in SMTP session.
pub(crate) async fn smtp(config: &EmailConfig, tls: &Tls) -> Result<Smtp<Stream>, EmailError> {
    let host = config.smtp_host();
    let timeout = config.timeout();
    let mode = config.smtp_mode();
    let name = config.domain();
    let first = (mode == Mode::Tls).then_some(tls);
    let stream = Stream::connect(host, config.smtp_port, first, timeout).await?;
    let mut smtp = Smtp::greet(stream, timeout).await?;
    smtp.ehlo(&name).await?;
    if mode == Mode::Starttls {
        let plain = smtp.starttls().await?;
        let secured = plain.start_tls(tls, host, timeout).await?;
        smtp = Smtp::resume(secured, timeout);
        smtp.ehlo(&name).await?;
    }
    smtp.auth(&config.login(), &config.password()).await?;
    Ok(smtp)
}
