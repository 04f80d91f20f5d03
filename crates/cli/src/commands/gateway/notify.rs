//! The systemd notification protocol (`sd_notify`), for a gateway run as a
//! `Type=notify` service: `READY=1` once it serves, `STATUS=...` as its
//! state changes, `STOPPING=1` when it shuts down and `WATCHDOG=1` at half
//! the interval systemd asks for.
//!
//! Each message is one datagram to the socket named by `NOTIFY_SOCKET` (a
//! path, or an abstract name written with a leading `@`). Without that
//! variable every call does nothing, so the gateway behaves the same in a
//! terminal.

use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

/// Where notifications go; `None` when not run by systemd.
#[derive(Debug, Clone, Default)]
pub struct Notifier {
    socket: Option<String>,
}

impl Notifier {
    /// From `NOTIFY_SOCKET`.
    pub fn from_env() -> Self {
        Self {
            socket: std::env::var("NOTIFY_SOCKET")
                .ok()
                .filter(|s| !s.is_empty()),
        }
    }

    pub fn is_active(&self) -> bool {
        self.socket.is_some()
    }

    /// Sends `message` (`KEY=value` lines). A failure is logged, never
    /// fatal: the gateway serves with or without its supervisor listening.
    pub fn send(&self, message: &str) {
        let Some(socket) = &self.socket else {
            return;
        };
        match send_datagram(socket, message) {
            Ok(()) => debug!(message, "systemd notified"),
            Err(e) => warn!(socket = %socket, error = %e, "cannot notify systemd"),
        }
    }

    /// `STATUS=` with `text` on one line.
    pub fn status(&self, text: &str) {
        self.send(&format!("STATUS={}", text.replace('\n', " ")));
    }
}

#[cfg(unix)]
fn send_datagram(socket: &str, message: &str) -> std::io::Result<()> {
    use std::os::unix::net::UnixDatagram;
    let datagram = UnixDatagram::unbound()?;
    if let Some(name) = socket.strip_prefix('@') {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
            datagram.send_to_addr(message.as_bytes(), &addr)?;
            return Ok(());
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        {
            let _ = name;
            return Err(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "abstract socket names exist only on Linux",
            ));
        }
    }
    datagram.send_to(message.as_bytes(), socket)?;
    Ok(())
}

#[cfg(not(unix))]
fn send_datagram(_socket: &str, _message: &str) -> std::io::Result<()> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "systemd notifications need Unix sockets",
    ))
}

/// How often to ping the watchdog: half of `WATCHDOG_USEC`, when it is set
/// for this process (`WATCHDOG_PID` absent or ours).
pub fn watchdog_interval(usec: Option<&str>, pid: Option<&str>) -> Option<Duration> {
    if pid.is_some_and(|p| p.trim() != std::process::id().to_string()) {
        return None;
    }
    let usec: u64 = usec?.trim().parse().ok().filter(|u| *u > 0)?;
    Some(Duration::from_micros(usec) / 2)
}

/// Pings the watchdog every `interval` (tokio's clock) until `stop`. A
/// runtime too stuck to run this task stops pinging, and systemd restarts
/// the service.
pub async fn watchdog(notifier: Notifier, interval: Duration, stop: CancellationToken) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticks.tick() => notifier.send("WATCHDOG=1"),
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::net::UnixDatagram;

    #[test]
    fn the_interval_is_half_of_what_systemd_asks_for_this_process() {
        let ours = std::process::id().to_string();
        assert_eq!(
            watchdog_interval(Some("2000000"), None),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            watchdog_interval(Some("2000000"), Some(&ours)),
            Some(Duration::from_secs(1))
        );
        assert_eq!(watchdog_interval(Some("2000000"), Some("1")), None);
        assert_eq!(watchdog_interval(Some("0"), None), None);
        assert_eq!(watchdog_interval(Some("soon"), None), None);
        assert_eq!(watchdog_interval(None, None), None);
    }

    fn listener() -> (tempfile::TempDir, UnixDatagram, Notifier) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("notify.sock");
        let socket = UnixDatagram::bind(&path).expect("bind");
        socket.set_nonblocking(true).expect("nonblocking");
        let notifier = Notifier {
            socket: Some(path.to_string_lossy().into_owned()),
        };
        (dir, socket, notifier)
    }

    fn received(socket: &UnixDatagram) -> Vec<String> {
        let mut out = Vec::new();
        let mut buf = [0u8; 512];
        while let Ok(n) = socket.recv(&mut buf) {
            out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        out
    }

    #[test]
    fn messages_reach_the_socket_and_status_is_one_line() {
        let (_dir, socket, notifier) = listener();
        notifier.send("READY=1");
        notifier.status("running\nhealthy");
        assert_eq!(received(&socket), ["READY=1", "STATUS=running healthy"]);
        Notifier::default().send("READY=1");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn an_abstract_socket_name_starts_with_an_at() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("hermod-test-{}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let socket = UnixDatagram::bind_addr(&addr).unwrap();
        socket.set_nonblocking(true).unwrap();
        let notifier = Notifier {
            socket: Some(format!("@{name}")),
        };
        notifier.send("STOPPING=1");
        assert_eq!(received(&socket), ["STOPPING=1"]);
    }

    #[tokio::test(start_paused = true)]
    async fn the_watchdog_pings_at_its_interval_until_stopped() {
        let (_dir, socket, notifier) = listener();
        let stop = CancellationToken::new();
        let task = tokio::spawn(watchdog(notifier, Duration::from_secs(10), stop.clone()));
        // The first ping is at once; then one per interval.
        tokio::time::sleep(Duration::from_secs(25)).await;
        assert_eq!(received(&socket), ["WATCHDOG=1"; 3]);
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert!(
            received(&socket).is_empty(),
            "none before the next interval"
        );
        stop.cancel();
        task.await.unwrap();
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert!(received(&socket).is_empty(), "no ping after stop");
    }
}
