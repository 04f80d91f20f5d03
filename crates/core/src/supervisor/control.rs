//! [`Platforms`]: what operators ask of each platform's supervisor (pause,
//! resume) and what a supervisor tells them back (its failures in a row),
//! shared by the supervisors and `/platform`.
//!
//! Requests go through a `watch` channel per platform, so a supervisor
//! sees the latest wish whatever it is doing: running, backing off or
//! paused. A manual pause is also persisted (the store setting
//! [`paused_key`]), which the gateway reads on start.

use hermod_model::PlatformId;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use tokio::sync::watch;

/// The store setting that holds a platform's manual pause (its reason).
pub(crate) fn paused_key(platform: &PlatformId) -> String {
    format!("platform_paused:{platform}")
}

/// What operators want of one platform.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Wish {
    /// Paused by an operator, with the reason shown in `Health`.
    paused: Option<String>,
    /// Bumped by every resume, so a resume wakes a supervisor even when
    /// nothing was paused by hand (an open breaker, a backoff).
    resumes: u64,
}

#[derive(Debug)]
struct Slot {
    wishes: watch::Sender<Wish>,
    /// Written by the supervisor, read by `/platform list`.
    failures: AtomicU32,
}

/// Every platform's controls; cheap to clone.
#[derive(Debug, Clone, Default)]
pub(crate) struct Platforms {
    slots: Arc<BTreeMap<PlatformId, Arc<Slot>>>,
}

impl Platforms {
    pub(crate) fn new(ids: impl IntoIterator<Item = PlatformId>) -> Self {
        let slots = ids
            .into_iter()
            .map(|id| {
                let slot = Slot {
                    wishes: watch::Sender::new(Wish::default()),
                    failures: AtomicU32::new(0),
                };
                (id, Arc::new(slot))
            })
            .collect();
        Self {
            slots: Arc::new(slots),
        }
    }

    /// Every platform, in name order.
    pub(crate) fn ids(&self) -> impl Iterator<Item = &PlatformId> {
        self.slots.keys()
    }

    /// The platform called `name` (ignoring case).
    pub(crate) fn find(&self, name: &str) -> Option<&PlatformId> {
        self.slots
            .keys()
            .find(|id| id.as_str().eq_ignore_ascii_case(name.trim()))
    }

    /// Asks `platform`'s supervisor to stop its run and stay paused.
    pub(crate) fn pause(&self, platform: &PlatformId, reason: impl Into<String>) {
        if let Some(slot) = self.slots.get(platform) {
            let reason = reason.into();
            slot.wishes.send_modify(|w| w.paused = Some(reason));
        }
    }

    /// Asks `platform`'s supervisor to clear any pause and start now.
    pub(crate) fn resume(&self, platform: &PlatformId) {
        if let Some(slot) = self.slots.get(platform) {
            slot.wishes.send_modify(|w| {
                w.paused = None;
                w.resumes = w.resumes.wrapping_add(1);
            });
        }
    }

    /// Whether an operator paused `platform`, and why.
    pub(crate) fn paused(&self, platform: &PlatformId) -> Option<String> {
        self.slots
            .get(platform)
            .and_then(|s| s.wishes.borrow().paused.clone())
    }

    /// `platform`'s failures in a row, as its supervisor last reported.
    pub(crate) fn failures(&self, platform: &PlatformId) -> u32 {
        self.slots
            .get(platform)
            .map_or(0, |s| s.failures.load(Ordering::Relaxed))
    }

    /// The supervisor's end of `platform`'s controls.
    pub(crate) fn control(&self, platform: &PlatformId) -> Control {
        let slot = match self.slots.get(platform) {
            Some(slot) => Arc::clone(slot),
            // An adapter added after the gateway was built: controls
            // nobody can reach, so it simply runs.
            None => Arc::new(Slot {
                wishes: watch::Sender::new(Wish::default()),
                failures: AtomicU32::new(0),
            }),
        };
        let wishes = slot.wishes.subscribe();
        let resumes = wishes.borrow().resumes;
        Control {
            slot,
            wishes,
            resumes,
        }
    }
}

/// One supervisor's end of its platform's controls.
#[derive(Debug)]
pub(crate) struct Control {
    slot: Arc<Slot>,
    wishes: watch::Receiver<Wish>,
    /// The resumes already acted on.
    resumes: u64,
}

impl Control {
    /// Whether an operator paused the platform, and why.
    pub(crate) fn paused(&mut self) -> Option<String> {
        self.wishes.borrow_and_update().paused.clone()
    }

    /// Whether a resume arrived since the last call.
    pub(crate) fn take_resume(&mut self) -> bool {
        let resumes = self.wishes.borrow_and_update().resumes;
        let new = resumes != self.resumes;
        self.resumes = resumes;
        new
    }

    /// Waits for the next request.
    pub(crate) async fn changed(&mut self) {
        if self.wishes.changed().await.is_err() {
            // Every `Platforms` handle is gone: no request will come.
            std::future::pending::<()>().await;
        }
    }

    /// Reports the platform's failures in a row.
    pub(crate) fn set_failures(&self, failures: u32) {
        self.slot.failures.store(failures, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_supervisor_sees_pauses_and_resumes() {
        let chat = PlatformId::from_static("chat");
        let platforms = Platforms::new([chat.clone(), PlatformId::from_static("other")]);
        assert_eq!(platforms.find(" CHAT "), Some(&chat));
        assert!(platforms.find("nope").is_none());
        let mut control = platforms.control(&chat);
        assert_eq!(control.paused(), None);
        assert!(!control.take_resume());

        platforms.pause(&chat, "by alice");
        control.changed().await;
        assert_eq!(control.paused().as_deref(), Some("by alice"));
        assert_eq!(platforms.paused(&chat).as_deref(), Some("by alice"));
        let other = PlatformId::from_static("other");
        assert_eq!(platforms.paused(&other), None, "one platform only");

        platforms.resume(&chat);
        control.changed().await;
        assert_eq!(control.paused(), None);
        assert!(control.take_resume());
        assert!(!control.take_resume(), "each resume is taken once");

        control.set_failures(3);
        assert_eq!(platforms.failures(&chat), 3);
        assert_eq!(platforms.failures(&other), 0);
    }
}
