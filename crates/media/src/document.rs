//! Documents as text for the model: text-like files inlined up to a cap,
//! PDFs turned into text.

/// A document's text, as much as fits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentText {
    pub text: String,
    /// The text was cut at the cap.
    pub truncated: bool,
    /// Characters in the whole document's text.
    pub total_chars: usize,
}

/// Why a document's text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    /// Not a kind of file whose text hermod reads.
    #[error("not a text document")]
    NotText,
    #[error("{0}")]
    Unreadable(String),
}

/// The text of the file at `path`, of type `mime` (sniffed), named
/// `file_name` by its sender, up to `max_chars` characters. Blocking.
pub fn read_text(
    _path: &std::path::Path,
    _mime: Option<&str>,
    _file_name: Option<&str>,
    _max_chars: usize,
) -> Result<DocumentText, DocumentError> {
    Err(DocumentError::NotText)
}
