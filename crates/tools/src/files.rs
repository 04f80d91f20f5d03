//! `read_file` and `write_file`: text files in the workspace.
//!
//! Reads are capped and text only, with line numbers and an
//! `offset`/`limit` window so a long file can be read in parts. Writes are
//! capped and atomic: the content goes to a temporary file in the same
//! directory, which is then renamed over the target, so a reader never
//! sees half a file and a failed write leaves the old one.

use crate::config::{FilesConfig, positive};
use crate::{ToolsError, Workspace};
use hermod_agent::{Tool, ToolContext};
use hermod_model::text::human_size;
use serde::Deserialize;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes looked at to decide whether a file is text.
const SNIFF_BYTES: usize = 8192;

impl FilesConfig {
    /// The two file tools, confined to `workspace`.
    pub fn build(&self, workspace: &Workspace) -> Result<(ReadFile, WriteFile), ToolsError> {
        let max_read = positive("files.max_read_bytes", self.max_read_bytes)?;
        let max_write = positive("files.max_write_bytes", self.max_write_bytes)?;
        Ok((
            ReadFile {
                workspace: workspace.clone(),
                max_bytes: max_read,
                description: read_description(max_read),
            },
            WriteFile {
                workspace: workspace.clone(),
                max_bytes: max_write,
                description: write_description(max_write),
            },
        ))
    }
}

/// The `read_file` tool.
#[derive(Debug, Clone)]
pub struct ReadFile {
    workspace: Workspace,
    max_bytes: u64,
    description: String,
}

fn read_description(max_bytes: u64) -> String {
    format!(
        "Read a text file in the workspace. Lines come numbered (`number<TAB>text`). \
         `path` is relative to the workspace. Use `offset` (first line, from 1) and `limit` \
         (number of lines) to read a long file in parts; at most {} are returned per call, \
         and the result says where to continue. Binary files are refused.",
        human_size(max_bytes)
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadArgs {
    path: String,
    #[serde(default)]
    offset: Option<u64>,
    #[serde(default)]
    limit: Option<u64>,
}

#[async_trait::async_trait]
impl Tool for ReadFile {
    fn name(&self) -> &str {
        "read_file"
    }

    fn description(&self) -> &str {
        &self.description
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "path": {"type": "string", "description": "The file, relative to the workspace."},
                "offset": {"type": "integer", "minimum": 1, "description": "The first line to read (1 is the first line). Default 1."},
                "limit": {"type": "integer", "minimum": 1, "description": "How many lines to read at most. Default: as many as fit."},
            },
            "required": ["path"],
            "additionalProperties": false,
        })
    }

    async fn call(&self, arguments: Value, _ctx: ToolContext) -> Result<String, String> {
        let args: ReadArgs = parse_args(arguments)?;
        let path = self.workspace.existing(&args.path)?;
        let shown = self.workspace.display(&path);
        let max_bytes = self.max_bytes;
        run_blocking(move || read_lines(&path, &shown, &args, max_bytes)).await
    }
}

/// The `write_file` tool.
#[derive(Debug, Clone)]
pub struct WriteFile {
    workspace: Workspace,
    max_bytes: u64,
    description: String,
}

fn write_description(max_bytes: u64) -> String {
    format!(
        "Write a text file in the workspace, replacing it (or with `append: true`, adding to \
         its end). `path` is relative to the workspace; missing directories are created. The \
         write is atomic: the file has either its old or its new content. At most {} per call.",
        human_size(max_bytes)
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WriteArgs {
    path: String,
    content: String,
    #[serde(default)]
    append: bool,
}

#[async_trait::async_trait]
impl Tool for WriteFile {
    fn name(&self) -> &str {
        "write_file"
    }

    fn description(&self) -> &str {
        &self.description
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "path": {"type": "string", "description": "The file, relative to the workspace."},
                "content": {"type": "string", "description": "The text to write."},
                "append": {"type": "boolean", "description": "Add to the end of the file instead of replacing it. Default false."},
            },
            "required": ["path", "content"],
            "additionalProperties": false,
        })
    }

    async fn call(&self, arguments: Value, _ctx: ToolContext) -> Result<String, String> {
        let args: WriteArgs = parse_args(arguments)?;
        let size = args.content.len() as u64;
        if size > self.max_bytes {
            return Err(format!(
                "the content is {} but write_file writes at most {} per call; write the file in parts with append: true",
                human_size(size),
                human_size(self.max_bytes)
            ));
        }
        let workspace = self.workspace.clone();
        run_blocking(move || {
            let path = workspace.writable(&args.path)?;
            let shown = workspace.display(&path);
            write_atomic(&path, &args.content, args.append)
                .map(|outcome| outcome.describe(&shown, size))
                .map_err(|err| format!("cannot write {shown}: {err}"))
        })
        .await
    }
}

fn parse_args<T: serde::de::DeserializeOwned>(arguments: Value) -> Result<T, String> {
    serde_json::from_value(arguments).map_err(|err| format!("invalid arguments: {err}"))
}

/// Runs file I/O off the async threads.
async fn run_blocking<F>(work: F) -> Result<String, String>
where
    F: FnOnce() -> Result<String, String> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|err| Err(format!("the file operation failed: {err}")))
}

fn read_lines(path: &Path, shown: &str, args: &ReadArgs, max_bytes: u64) -> Result<String, String> {
    let file = std::fs::File::open(path).map_err(|err| format!("cannot open {shown}: {err}"))?;
    let meta = file
        .metadata()
        .map_err(|err| format!("cannot open {shown}: {err}"))?;
    if meta.is_dir() {
        return Err(format!(
            "{shown} is a directory; list it with the terminal tool (ls)"
        ));
    }
    let mut reader = BufReader::new(file);
    let head = reader
        .fill_buf()
        .map_err(|err| format!("cannot read {shown}: {err}"))?;
    if is_binary(&head[..head.len().min(SNIFF_BYTES)]) {
        return Err(format!(
            "{shown} is a binary file ({}); read_file reads text only",
            human_size(meta.len())
        ));
    }
    let offset = args.offset.unwrap_or(1).max(1);
    let limit = args.limit.unwrap_or(u64::MAX);
    let mut out = String::new();
    let mut number = 0u64;
    let mut shown_lines = 0u64;
    let mut line = Vec::new();
    let mut more = false;
    loop {
        line.clear();
        let read = reader
            .by_ref()
            .take(max_bytes + 1)
            .read_until(b'\n', &mut line)
            .map_err(|err| format!("cannot read {shown}: {err}"))?;
        if read == 0 {
            break;
        }
        number += 1;
        if number < offset {
            continue;
        }
        if shown_lines == limit {
            more = true;
            break;
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\n', '\r']);
        let entry = format!("{number:>6}\t{text}\n");
        if (out.len() + entry.len()) as u64 > max_bytes {
            if shown_lines == 0 {
                // One line longer than the cap: show its start.
                let room = usize::try_from(max_bytes).unwrap_or(usize::MAX);
                out.push_str(crate::text::first_chars(&entry, room));
                out.push_str("\n[this line is cut]\n");
                shown_lines = 1;
            }
            more = true;
            break;
        }
        out.push_str(&entry);
        shown_lines += 1;
    }
    if number == 0 {
        return Ok(format!("{shown} is empty"));
    }
    if shown_lines == 0 {
        return Ok(format!(
            "{shown} has {number} lines; there is nothing from line {offset} on"
        ));
    }
    let last = offset + shown_lines - 1;
    let footer = if more {
        format!(
            "[{shown}: lines {offset}-{last} shown; more follow, continue with offset {}]",
            last + 1
        )
    } else {
        format!("[{shown}: lines {offset}-{last} shown; end of file]")
    };
    Ok(format!("{out}{footer}"))
}

/// NUL bytes or text that is not UTF-8 (a character cut at the end of the
/// sample is fine).
fn is_binary(sample: &[u8]) -> bool {
    if sample.contains(&0) {
        return true;
    }
    match std::str::from_utf8(sample) {
        Ok(_) => false,
        Err(err) => err.error_len().is_some(),
    }
}

/// What a write did.
enum Written {
    Created,
    Replaced,
    Appended { total: u64 },
}

impl Written {
    fn describe(&self, shown: &str, bytes: u64) -> String {
        match self {
            Written::Created => format!("wrote {bytes} bytes to {shown} (new file)"),
            Written::Replaced => format!("wrote {bytes} bytes to {shown} (replaced its content)"),
            Written::Appended { total } => {
                format!("appended {bytes} bytes to {shown} (now {total} bytes)")
            }
        }
    }
}

/// Writes through a temporary file in the same directory and a rename.
fn write_atomic(path: &Path, content: &str, append: bool) -> std::io::Result<Written> {
    let existing = std::fs::metadata(path).ok();
    let (temp, mut file) = temp_file(path)?;
    let result = (|| {
        let mut total = 0;
        if append && existing.is_some() {
            total = std::io::copy(&mut std::fs::File::open(path)?, &mut file)?;
        }
        file.write_all(content.as_bytes())?;
        file.sync_all()?;
        if let Some(meta) = &existing {
            std::fs::set_permissions(&temp, meta.permissions())?;
        }
        std::fs::rename(&temp, path)?;
        Ok(total + content.len() as u64)
    })();
    match result {
        Ok(total) => Ok(match (existing, append) {
            (None, _) => Written::Created,
            (Some(_), false) => Written::Replaced,
            (Some(_), true) => Written::Appended { total },
        }),
        Err(err) => {
            let _ = std::fs::remove_file(&temp);
            Err(err)
        }
    }
}

/// A new file beside `path`, named so it cannot clash with another write.
fn temp_file(path: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    loop {
        let temp = path.with_file_name(format!(
            ".{name}.{}-{}.tmp",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
        {
            Ok(file) => return Ok((temp, file)),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_is_nul_or_invalid_utf8() {
        assert!(!is_binary(b"hello\n"));
        assert!(!is_binary("héllo".as_bytes()));
        assert!(
            !is_binary(&"é".as_bytes()[..1]),
            "a character cut at the end"
        );
        assert!(is_binary(b"a\0b"));
        assert!(is_binary(&[0xff, 0xfe, b'a']));
    }
}
