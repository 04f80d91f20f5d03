//! The text-to-speech side of [`FakeSpeech`]: `POST /v1/audio/speech`.
//!
//! It reads the request the way OpenAI does and refuses what OpenAI
//! refuses, with OpenAI's error shape: a body that is not a JSON object,
//! no `model`, `input` or `voice`, an `input` over 4,096 characters, an
//! unknown `response_format`, a `speed` outside 0.25 to 4.0, and, when
//! [`FakeSpeech::require_key`] was called, a missing or wrong bearer key
//! (401).
//!
//! A valid request is answered from the queue of scripted
//! [`SynthesisReply`] values, else with a tiny file of the asked format
//! whose header is right ([`audio_for`]): an OGG stream with its
//! `OpusHead` and `OpusTags` pages for `opus`, `RIFF…WAVE` for `wav`, an
//! ID3 tag and an MPEG frame header for `mp3`, an ADTS frame for `aac`,
//! `fLaC` with its `STREAMINFO` for `flac`, and silence for `pcm`. Every
//! request is recorded, valid or not.

use super::{FakeSpeech, Shared, error, invalid, rate_limited, server_error, unauthorized};
use axum::extract::{Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::Arc;

/// OpenAI's limit on `input`, in characters.
pub const MAX_INPUT_CHARS: usize = 4096;

/// The `response_format` values OpenAI accepts, in its order.
pub const SPEECH_FORMATS: &[&str] = &["mp3", "opus", "aac", "flac", "wav", "pcm"];

/// How the fake answers one speech request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SynthesisReply {
    /// The tiny file of the asked format ([`audio_for`]).
    Audio,
    /// These bytes, with the asked format's type: a server sending garbage.
    Bytes(Vec<u8>),
    /// 401 `invalid_api_key`, as for a wrong key.
    Unauthorized,
    /// 429 with `Retry-After: <secs>` (none when `None`).
    RateLimited { retry_after_secs: Option<u64> },
    /// 500 `server_error`.
    ServerError,
    /// Never answers (until the fake is dropped).
    Hang,
}

/// One speech request the fake received.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SynthesisRequest {
    /// The `Content-Type` header, lowercase.
    pub content_type: String,
    pub authorization: Option<String>,
    /// The body as JSON (`Null` when it was not JSON).
    pub body: Value,
    /// The status the fake answered.
    pub status: u16,
}

impl SynthesisRequest {
    fn text(&self, name: &str) -> Option<&str> {
        self.body.get(name).and_then(Value::as_str)
    }

    pub fn model(&self) -> Option<&str> {
        self.text("model")
    }

    pub fn input(&self) -> Option<&str> {
        self.text("input")
    }

    pub fn voice(&self) -> Option<&str> {
        self.text("voice")
    }

    /// The asked format; OpenAI's default, `mp3`, when none was asked.
    pub fn response_format(&self) -> &str {
        self.text("response_format").unwrap_or("mp3")
    }
}

/// The speech side's script and record, kept in the fake's state.
#[derive(Debug, Default)]
pub(super) struct Script {
    queue: VecDeque<SynthesisReply>,
    requests: Vec<SynthesisRequest>,
}

impl FakeSpeech {
    /// Queues the answer to a coming valid speech request.
    pub fn push_speech(&self, reply: SynthesisReply) -> &Self {
        self.shared.lock().synthesis.queue.push_back(reply);
        self
    }

    /// Every speech request received so far, in arrival order.
    pub fn speech_requests(&self) -> Vec<SynthesisRequest> {
        self.shared.lock().synthesis.requests.clone()
    }

    /// Waits until at least `n` speech requests have arrived.
    pub async fn wait_for_speech_requests(&self, n: usize) {
        loop {
            let notified = self.shared.changed.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            if self.shared.lock().synthesis.requests.len() >= n {
                return;
            }
            notified.await;
        }
    }
}

pub(super) async fn speech(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let mut record = SynthesisRequest {
        content_type: super::header_text(&request, header::CONTENT_TYPE).to_ascii_lowercase(),
        authorization: Some(super::header_text(&request, header::AUTHORIZATION))
            .filter(|a| !a.is_empty()),
        ..SynthesisRequest::default()
    };
    let response = answer(&shared, request, &mut record).await;
    record.status = response.status().as_u16();
    shared.lock().synthesis.requests.push(record);
    shared.changed.notify_waiters();
    response
}

/// Checks the request as OpenAI would, then answers from the script.
async fn answer(shared: &Shared, request: Request, record: &mut SynthesisRequest) -> Response {
    let key = shared.lock().key.clone();
    if let Some(key) = key
        && record.authorization.as_deref() != Some(&format!("Bearer {key}"))
    {
        return unauthorized();
    }
    let Ok(bytes) = axum::body::to_bytes(request.into_body(), 1024 * 1024).await else {
        return invalid("We could not parse the JSON body of your request.");
    };
    record.body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if !record.body.is_object() {
        return invalid(
            "We could not parse the JSON body of your request. (HINT: This likely means you \
             aren't using your HTTP library correctly. The OpenAI API expects a JSON payload.)",
        );
    }
    for name in ["model", "input", "voice"] {
        if record.body.get(name).is_none_or(Value::is_null) {
            return invalid(&format!("Missing required parameter: '{name}'."));
        }
    }
    let Some(input) = record.input() else {
        return invalid("Invalid type for 'input': expected a string.");
    };
    if input.chars().count() > MAX_INPUT_CHARS {
        return invalid(&format!(
            "[{{'type': 'string_too_long', 'loc': ('body', 'input'), 'msg': 'String should have \
             at most {MAX_INPUT_CHARS} characters'}}]"
        ));
    }
    let format = record.response_format().to_owned();
    if !SPEECH_FORMATS.contains(&format.as_str()) {
        return invalid(&format!(
            "Invalid value: '{format}'. Supported values are: 'mp3', 'opus', 'aac', 'flac', \
             'wav', and 'pcm'."
        ));
    }
    if let Some(speed) = record.body.get("speed")
        && !speed.as_f64().is_some_and(|s| (0.25..=4.0).contains(&s))
    {
        return invalid(&format!(
            "Invalid 'speed': {speed}. Expected a value between 0.25 and 4.0."
        ));
    }
    let reply = shared
        .lock()
        .synthesis
        .queue
        .pop_front()
        .unwrap_or(SynthesisReply::Audio);
    match reply {
        SynthesisReply::Audio => audio_response(&format, audio_for(&format)),
        SynthesisReply::Bytes(bytes) => audio_response(&format, bytes),
        SynthesisReply::Unauthorized => unauthorized(),
        SynthesisReply::RateLimited { retry_after_secs } => rate_limited(retry_after_secs),
        SynthesisReply::ServerError => server_error(),
        SynthesisReply::Hang => {
            shared.shutdown.cancelled().await;
            error(503, "server_error", None, "the fake is shutting down")
        }
    }
}

fn audio_response(format: &str, bytes: Vec<u8>) -> Response {
    let mime = match format {
        "opus" => "audio/ogg",
        "aac" => "audio/aac",
        "flac" => "audio/flac",
        "wav" => "audio/wav",
        "pcm" => "audio/pcm",
        _ => "audio/mpeg",
    };
    ([(header::CONTENT_TYPE, mime)], bytes).into_response()
}

/// A tiny file of `format` with a right header (see the module docs);
/// `mp3` for an unknown format.
pub fn audio_for(format: &str) -> Vec<u8> {
    match format {
        "opus" => ogg_opus(),
        "wav" => wav(),
        "aac" => {
            // ADTS: sync word, MPEG-4 AAC LC, 24 kHz, mono, a 7-byte
            // header and no payload.
            vec![0xFF, 0xF1, 0x58, 0x40, 0x00, 0xFF, 0xFC]
        }
        "flac" => {
            let mut out = b"fLaC".to_vec();
            // The last metadata block (0x80), STREAMINFO, 34 bytes.
            out.extend([0x80, 0x00, 0x00, 0x22]);
            out.extend([0x10, 0x00, 0x10, 0x00]); // block sizes 4096
            out.extend([0; 6]); // frame sizes unknown
            // 24000 Hz, 1 channel, 16 bits, 0 samples.
            out.extend([0x05, 0xDC, 0x00, 0xF0, 0x00, 0x00, 0x00, 0x00]);
            out.extend([0; 16]); // MD5 unknown
            out
        }
        "pcm" => vec![0; 480],
        _ => {
            // An empty ID3v2.4 tag, then one silent MPEG-1 Layer III frame
            // (128 kbit/s, 44.1 kHz, mono): 417 bytes with its header.
            let mut out = b"ID3\x04\x00\x00\x00\x00\x00\x00".to_vec();
            out.extend([0xFF, 0xFB, 0x90, 0xC4]);
            out.resize(10 + 417, 0);
            out
        }
    }
}

/// 20 ms of silence, 24 kHz mono 16-bit, in a RIFF/WAVE file.
fn wav() -> Vec<u8> {
    let samples = 480_u32;
    let data = samples * 2;
    let mut out = b"RIFF".to_vec();
    out.extend((36 + data).to_le_bytes());
    out.extend(b"WAVEfmt ");
    out.extend(16_u32.to_le_bytes());
    out.extend(1_u16.to_le_bytes()); // PCM
    out.extend(1_u16.to_le_bytes()); // mono
    out.extend(24_000_u32.to_le_bytes());
    out.extend(48_000_u32.to_le_bytes()); // bytes per second
    out.extend(2_u16.to_le_bytes()); // block align
    out.extend(16_u16.to_le_bytes());
    out.extend(b"data");
    out.extend(data.to_le_bytes());
    out.resize(out.len() + data as usize, 0);
    out
}

/// An OGG stream holding an Opus identification header and comment
/// header (RFC 7845), each on its own page with a correct checksum.
fn ogg_opus() -> Vec<u8> {
    let mut head = b"OpusHead".to_vec();
    head.push(1); // version
    head.push(1); // channels
    head.extend(312_u16.to_le_bytes()); // pre-skip
    head.extend(24_000_u32.to_le_bytes()); // input sample rate
    head.extend(0_i16.to_le_bytes()); // output gain
    head.push(0); // channel mapping family
    let mut tags = b"OpusTags".to_vec();
    let vendor = b"hermod-testkit";
    tags.extend((vendor.len() as u32).to_le_bytes());
    tags.extend(vendor);
    tags.extend(0_u32.to_le_bytes()); // no comments
    let mut out = ogg_page(0x02, 0, &head);
    out.extend(ogg_page(0x00, 1, &tags));
    out
}

/// One OGG page of `packet` (under 255 bytes), stream serial 1.
fn ogg_page(header_type: u8, sequence: u32, packet: &[u8]) -> Vec<u8> {
    let length = u8::try_from(packet.len()).expect("a packet of one segment");
    let mut page = b"OggS".to_vec();
    page.push(0); // version
    page.push(header_type);
    page.extend(0_u64.to_le_bytes()); // granule position
    page.extend(1_u32.to_le_bytes()); // serial
    page.extend(sequence.to_le_bytes());
    page.extend(0_u32.to_le_bytes()); // checksum, filled in below
    page.push(1); // one segment
    page.push(length);
    page.extend(packet);
    let crc = ogg_crc(&page);
    page[22..26].copy_from_slice(&crc.to_le_bytes());
    page
}

/// OGG's CRC-32: polynomial 0x04C11DB7, no reflection, zero start.
fn ogg_crc(bytes: &[u8]) -> u32 {
    let mut crc = 0_u32;
    for &byte in bytes {
        crc ^= u32::from(byte) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 == 0 {
                crc << 1
            } else {
                (crc << 1) ^ 0x04C1_1DB7
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_format_has_its_magic() {
        let opus = audio_for("opus");
        assert!(opus.starts_with(b"OggS"));
        assert_eq!(&opus[28..36], b"OpusHead");
        assert!(opus.windows(8).any(|w| w == b"OpusTags"));
        let wav = audio_for("wav");
        assert_eq!((&wav[..4], &wav[8..12]), (&b"RIFF"[..], &b"WAVE"[..]));
        assert!(audio_for("mp3").starts_with(b"ID3"));
        assert!(audio_for("flac").starts_with(b"fLaC"));
        assert_eq!(&audio_for("aac")[..2], &[0xFF, 0xF1]);
    }

    #[test]
    fn ogg_pages_carry_a_valid_checksum() {
        let opus = audio_for("opus");
        // 27 header bytes, a one-entry segment table, then the packet.
        let mut page = opus[..28 + usize::from(opus[27])].to_vec();
        let stored = u32::from_le_bytes([page[22], page[23], page[24], page[25]]);
        page[22..26].fill(0);
        assert_eq!(ogg_crc(&page), stored);
        // The check value of this CRC variant for "123456789".
        assert_eq!(ogg_crc(b"123456789"), 0x89A1_897F);
    }
}
