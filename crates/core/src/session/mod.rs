//! Session workers: everything that happens to the messages of one session
//! key, in order — access control, commands, busy input, resets and turns.

mod answer;
mod busy;
pub(crate) mod context;
mod reaction;
mod reset;
mod resolve;
mod turn;
pub(crate) mod voice;
mod worker;

pub(crate) use answer::reply;
pub(crate) use busy::Pending;
pub(crate) use resolve::latest_session;
pub(crate) use worker::{Job, WorkerDeps, WorkerState, enqueue, inbox_done, run_worker};
