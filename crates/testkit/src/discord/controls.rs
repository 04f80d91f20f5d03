//! The gateway side of [`FakeDiscord`]'s handle: what clients sent and
//! how often, waiting for sessions, and scripted trouble on the live
//! connection (reconnect, invalid session, dropped socket, close codes,
//! malformed frames, heartbeat requests, no ACKs).

use super::session::{ClientFrame, GatewayConnection, Outgoing};
use super::{FakeDiscord, SessionFault, intents};
use serde_json::{Value, json};

impl FakeDiscord {
    /// Every payload clients sent on the gateway, in order.
    pub fn client_frames(&self) -> Vec<ClientFrame> {
        self.shared.lock().gateway.frames.clone()
    }

    /// The payloads with opcode `op` (2 IDENTIFY, 6 RESUME, 1 heartbeat).
    pub fn frames_of(&self, op: u64) -> Vec<ClientFrame> {
        let s = self.shared.lock();
        s.gateway
            .frames
            .iter()
            .filter(|f| f.op == Some(op))
            .cloned()
            .collect()
    }

    /// Every gateway connection, in order of opening.
    pub fn connections(&self) -> Vec<GatewayConnection> {
        self.shared.lock().gateway.connections.clone()
    }

    /// IDENTIFY payloads with the right token and valid intents.
    pub fn identify_count(&self) -> usize {
        self.shared.lock().gateway.identify_count
    }

    /// RESUME payloads with the right token.
    pub fn resume_count(&self) -> usize {
        self.shared.lock().gateway.resume_count
    }

    pub fn heartbeat_count(&self) -> usize {
        self.shared.lock().gateway.heartbeat_count
    }

    /// Dispatches lost because no session existed (events before the
    /// first IDENTIFY, or after a session ended).
    pub fn undelivered_dispatches(&self) -> usize {
        self.shared.lock().gateway.undelivered
    }

    /// The live session's id.
    pub fn session_id(&self) -> Option<String> {
        self.shared
            .lock()
            .gateway
            .session
            .as_ref()
            .map(|s| s.id.clone())
    }

    /// The last `s` the session gave out.
    pub fn last_sequence(&self) -> Option<u64> {
        self.shared.lock().gateway.session.as_ref().map(|s| s.seq)
    }

    /// The intents the session identified with.
    pub fn session_intents(&self) -> Option<u64> {
        self.shared
            .lock()
            .gateway
            .session
            .as_ref()
            .map(|s| s.intents)
    }

    /// Waits until a session is delivered on a connection (READY or
    /// RESUMED sent); returns its id.
    pub async fn wait_for_session(&self) -> String {
        self.shared
            .wait_until(|s| {
                let session = s.gateway.session.as_ref()?;
                session.conn.map(|_| session.id.clone())
            })
            .await
    }

    /// Waits until `n` IDENTIFY payloads were accepted.
    pub async fn wait_for_identifies(&self, n: usize) {
        self.shared
            .wait_until(|s| (s.gateway.identify_count >= n).then_some(()))
            .await;
    }

    /// Waits until `n` RESUME payloads arrived.
    pub async fn wait_for_resumes(&self, n: usize) {
        self.shared
            .wait_until(|s| (s.gateway.resume_count >= n).then_some(()))
            .await;
    }

    /// Waits until `n` heartbeats arrived.
    pub async fn wait_for_heartbeats(&self, n: usize) {
        self.shared
            .wait_until(|s| (s.gateway.heartbeat_count >= n).then_some(()))
            .await;
    }

    /// Waits until `n` connections were opened.
    pub async fn wait_for_connections(&self, n: usize) {
        self.shared
            .wait_until(|s| (s.gateway.connections.len() >= n).then_some(()))
            .await;
    }

    /// Waits until connection `id` ended; returns its record.
    pub async fn wait_for_closed(&self, id: u64) -> GatewayConnection {
        self.shared
            .wait_until(|s| {
                s.gateway
                    .connections
                    .iter()
                    .find(|c| c.id == id && !c.open)
                    .cloned()
            })
            .await
    }

    /// Enables or disables privileged intents for the app (the Developer
    /// Portal's switches); an IDENTIFY asking for a disabled one is
    /// closed with 4014.
    pub fn set_privileged_intents(&self, enabled: u64) {
        self.shared
            .update(|s| s.gateway.privileged_enabled = enabled & intents::PRIVILEGED);
    }

    /// Whether heartbeats are answered with op 11; off makes the
    /// connection a zombie the client must detect.
    pub fn set_heartbeat_acks(&self, on: bool) {
        self.shared.update(|s| s.gateway.acks = on);
    }

    /// Answers the next IDENTIFY or RESUME with `fault`.
    pub fn fail_next_session(&self, fault: SessionFault) {
        self.shared
            .update(|s| s.gateway.session_faults.push_back(fault));
    }

    /// Sends op 1: the client must heartbeat at once.
    pub fn request_heartbeat(&self) -> bool {
        self.send_op(&json!({"op": 1, "d": null, "s": null, "t": null}))
    }

    /// Sends op 7 Reconnect: the client should reconnect and resume.
    pub fn send_reconnect(&self) -> bool {
        self.send_op(&json!({"op": 7, "d": null, "s": null, "t": null}))
    }

    /// Sends op 9 Invalid Session with `d` = `resumable`; a session that
    /// is not resumable is ended, so RESUME fails afterwards.
    pub fn invalidate_session(&self, resumable: bool) -> bool {
        let sent = self.send_op(&json!({"op": 9, "d": resumable, "s": null, "t": null}));
        if !resumable {
            self.shared.update(|s| s.gateway.session = None);
        }
        sent
    }

    /// Drops the current connection without a close frame (the client
    /// sees the socket end); the session stays resumable.
    pub fn drop_connection(&self) -> bool {
        self.control(Outgoing::Drop)
    }

    /// Closes the current connection with `code` and `reason`.
    pub fn close_connection(&self, code: u16, reason: &str) -> bool {
        self.control(Outgoing::Close(Some((code, reason.to_owned()))))
    }

    /// Sends a text frame that is not valid JSON.
    pub fn send_malformed_frame(&self) -> bool {
        self.send_raw_frame(r#"{"op": 0, "t": "MESSAGE_CREATE", "s": "#)
    }

    /// Sends `text` as a frame, as is (no sequence number is used).
    pub fn send_raw_frame(&self, text: &str) -> bool {
        self.control(Outgoing::Text(text.to_owned()))
    }

    /// Dispatches any event to the session, as Discord would (next `s`,
    /// logged for replay), for events the fake does not produce itself;
    /// returns its `s`, or `None` without a session.
    pub fn dispatch_raw(&self, event: &str, data: Value) -> Option<u64> {
        self.shared.update(|s| s.gateway.dispatch(event, data, 0))
    }

    fn send_op(&self, payload: &Value) -> bool {
        self.control(Outgoing::Text(payload.to_string()))
    }

    /// Sends `out` on the session's connection, else the newest one;
    /// false when no connection is open.
    fn control(&self, out: Outgoing) -> bool {
        let s = self.shared.lock();
        match s.gateway.current_conn() {
            Some(conn) => {
                s.gateway.send(conn, out);
                true
            }
            None => false,
        }
    }
}
