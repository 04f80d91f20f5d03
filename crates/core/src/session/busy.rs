//! Messages waiting behind a running turn.
//!
//! Chat messages from the same sender that arrive while the agent works are
//! merged into one pending message: a burst of photos and files becomes one
//! message with all attachments (captions joined, duplicates dropped), and
//! text follow-ups are joined in order. Streamed requests (the HTTP API)
//! each need their own answer and are never merged.

use crate::reply::ReplyMode;
use crate::session::Job;
use hermod_model::Content;
use std::collections::VecDeque;

#[derive(Debug)]
pub(crate) struct Pending {
    jobs: VecDeque<Job>,
    capacity: usize,
}

impl Pending {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            jobs: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.jobs.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// Queues a job, merging it into the last one when both are chat
    /// messages from the same sender. Gives the job back when the queue is full.
    pub(crate) fn push(&mut self, job: Job) -> Result<(), Box<Job>> {
        if let Some(last) = self.jobs.back_mut()
            && mergeable(last, &job)
        {
            merge(last, job);
            return Ok(());
        }
        if self.jobs.len() >= self.capacity {
            return Err(Box::new(job));
        }
        self.jobs.push_back(job);
        Ok(())
    }

    /// Puts a job first (leftover steer text runs before anything queued).
    pub(crate) fn push_front(&mut self, job: Job) {
        self.jobs.push_front(job);
    }

    pub(crate) fn pop(&mut self) -> Option<Job> {
        self.jobs.pop_front()
    }

    /// Empties the queue, returning what was in it.
    pub(crate) fn clear(&mut self) -> Vec<Job> {
        self.jobs.drain(..).collect()
    }
}

fn mergeable(a: &Job, b: &Job) -> bool {
    matches!(a.reply, ReplyMode::Adapter)
        && matches!(b.reply, ReplyMode::Adapter)
        && a.event.source.participant() == b.event.source.participant()
        && a.event.source.thread_id == b.event.source.thread_id
}

fn merge(into: &mut Job, job: Job) {
    let with_media = !into.event.attachments.is_empty() || !job.event.attachments.is_empty();
    let old = into.event.content.text();
    let new = job.event.content.text();
    let text = if new.trim().is_empty() {
        old
    } else if old.trim().is_empty() {
        new
    } else if with_media {
        // Captions: drop a caption that is already there.
        if old.split("\n\n").any(|part| part == new) {
            old
        } else {
            format!("{old}\n\n{new}")
        }
    } else {
        format!("{old}\n{new}")
    };
    into.event.content = Content::Text(text);
    for attachment in job.event.attachments {
        if !into
            .event
            .attachments
            .iter()
            .any(|a| a.location == attachment.location)
        {
            into.event.attachments.push(attachment);
        }
    }
    into.inbox.extend(job.inbox);
    // The merged message answers the newest one.
    if job.event.message_id.is_some() {
        into.event.message_id = job.event.message_id;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermod_model::{Attachment, AttachmentKind, InboundEvent, PlatformId, Source};
    use tokio::sync::mpsc;
    use tokio_util::sync::CancellationToken;

    fn job(user: &str, text: &str, photos: &[&str]) -> Job {
        let mut source = Source::dm(PlatformId::from_static("t"), "c");
        source.user_id = Some(user.into());
        let mut event = InboundEvent::text(source, text);
        event.attachments = photos
            .iter()
            .map(|p| Attachment::new(AttachmentKind::Photo, *p))
            .collect();
        Job::new(event, ReplyMode::Adapter)
    }

    #[test]
    fn text_follow_ups_merge_in_order() {
        let mut p = Pending::new(2);
        p.push(job("u", "one", &[])).unwrap();
        p.push(job("u", "two", &[])).unwrap();
        p.push(job("u", "three", &[])).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p.pop().unwrap().event.content.text(), "one\ntwo\nthree");
    }

    #[test]
    fn photo_bursts_merge_with_captions_joined_and_duplicates_dropped() {
        let mut p = Pending::new(2);
        p.push(job("u", "beach", &["a.jpg"])).unwrap();
        p.push(job("u", "", &["b.jpg"])).unwrap();
        p.push(job("u", "beach", &["a.jpg", "c.jpg"])).unwrap();
        p.push(job("u", "sunset", &[])).unwrap();
        let merged = p.pop().unwrap().event;
        assert_eq!(merged.content.text(), "beach\n\nsunset");
        let locations: Vec<_> = merged
            .attachments
            .iter()
            .map(|a| a.location.as_str())
            .collect();
        assert_eq!(locations, ["a.jpg", "b.jpg", "c.jpg"]);
    }

    #[test]
    fn different_senders_and_streams_are_not_merged_and_the_queue_is_bounded() {
        let mut p = Pending::new(2);
        p.push(job("u", "one", &[])).unwrap();
        p.push(job("v", "two", &[])).unwrap();
        let (tx, _rx) = mpsc::channel(1);
        let mut streamed = job("v", "three", &[]);
        streamed.reply = ReplyMode::Stream {
            events: tx,
            cancel: CancellationToken::new(),
        };
        let refused = p.push(streamed).unwrap_err();
        assert_eq!(refused.event.content.text(), "three");
        assert_eq!(p.len(), 2);
        // A follow-up from the last sender still merges into a full queue.
        p.push(job("v", "again", &[])).unwrap();
        assert_eq!(p.clear().len(), 2);
        assert!(p.is_empty());
    }
}
