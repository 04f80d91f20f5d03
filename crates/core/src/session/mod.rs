//! Session workers: everything that happens to the messages of one session
//! key, in order — access control, commands, busy input, resets and turns.

mod busy;
mod reset;
mod turn;
mod worker;

pub(crate) use busy::Pending;
pub(crate) use turn::{latest_session, reply};
pub(crate) use worker::{Job, WorkerDeps, WorkerState, enqueue, inbox_done, run_worker};
