//! The workspace: the one directory the terminal runs in and the file
//! tools may touch. Paths the model gives are resolved inside it; `..`
//! that climbs out, absolute paths elsewhere and symlinks that lead out are
//! refused.
//!
//! A path is first made absolute and normalized without touching the disk
//! (`..` removes the previous component), so what is checked is exactly
//! what is opened. Then the part that exists is canonicalized, which
//! follows every symlink in it, and must still lie under the canonical
//! workspace.
//!
//! The check comes before the open: a process that swaps a checked
//! directory for a link in between is not defended against (the terminal,
//! when enabled, can do as much anyway). What this stops is the model
//! being led out of the workspace by a path or a link it was given.

use crate::ToolsError;
use std::io;
use std::path::{Component, Path, PathBuf};

/// The workspace directory, as configured and in canonical form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    /// As configured, for messages.
    dir: PathBuf,
    /// With every symlink resolved; every checked path must start with it.
    canonical: PathBuf,
}

impl Workspace {
    /// Opens `dir` as the workspace, creating it (and its parents) when
    /// missing.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, ToolsError> {
        let dir = dir.into();
        let error = |source| ToolsError::Workspace {
            path: dir.clone(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(error)?;
        let canonical = dir.canonicalize().map_err(error)?;
        if !canonical.is_dir() {
            return Err(error(io::Error::other("it is not a directory")));
        }
        Ok(Self { dir, canonical })
    }

    /// The directory as configured.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The directory with its symlinks resolved.
    pub fn canonical(&self) -> &Path {
        &self.canonical
    }

    /// `path` inside the workspace: relative to it, or absolute under it.
    /// Only lexical checks; see [`Workspace::existing`] and
    /// [`Workspace::writable`].
    pub(crate) fn lexical(&self, path: &str) -> Result<PathBuf, String> {
        if path.trim().is_empty() {
            return Err("the path is empty; give a path relative to the workspace".to_owned());
        }
        if path.contains('\0') {
            return Err("the path contains a NUL character".to_owned());
        }
        let given = Path::new(path);
        let joined = if given.is_absolute() {
            given.to_path_buf()
        } else {
            self.canonical.join(given)
        };
        let normalized = normalize(&joined);
        // An absolute path may name the workspace by its configured
        // spelling rather than its canonical one.
        let inside = if normalized.starts_with(&self.canonical) {
            normalized
        } else if let Ok(rest) = normalized.strip_prefix(normalize(&self.dir)) {
            self.canonical.join(rest)
        } else {
            return Err(self.outside(path));
        };
        Ok(inside)
    }

    /// An existing path inside the workspace, with its symlinks resolved.
    pub(crate) fn existing(&self, path: &str) -> Result<PathBuf, String> {
        let lexical = self.lexical(path)?;
        let canonical = lexical.canonicalize().map_err(|err| match err.kind() {
            io::ErrorKind::NotFound => format!("{path} does not exist in the workspace"),
            _ => format!("cannot open {path}: {err}"),
        })?;
        if !canonical.starts_with(&self.canonical) {
            return Err(self.symlink_out(path));
        }
        Ok(canonical)
    }

    /// Where a file may be written: inside the workspace, its final
    /// component not a symlink, its existing ancestors all resolving
    /// inside. Missing parent directories are created, inside only.
    pub(crate) fn writable(&self, path: &str) -> Result<PathBuf, String> {
        let lexical = self.lexical(path)?;
        if lexical == self.canonical {
            return Err(format!("{path} is the workspace itself; name a file in it"));
        }
        let (Some(parent), Some(name)) = (lexical.parent(), lexical.file_name()) else {
            return Err(format!("{path} does not name a file"));
        };
        if let Ok(meta) = std::fs::symlink_metadata(&lexical) {
            if meta.file_type().is_symlink() {
                return Err(format!(
                    "{path} is a symbolic link; write_file does not write through links (they may lead out of the workspace)"
                ));
            }
            if meta.is_dir() {
                return Err(format!("{path} is a directory; name a file"));
            }
        }
        // The deepest ancestor that exists decides where new directories
        // would be created.
        let existing = parent
            .ancestors()
            .find(|a| std::fs::symlink_metadata(a).is_ok())
            .unwrap_or(&self.canonical);
        let canonical = existing
            .canonicalize()
            .map_err(|err| format!("cannot resolve the directory of {path}: {err}"))?;
        if !canonical.starts_with(&self.canonical) {
            return Err(self.symlink_out(path));
        }
        let rest = parent.strip_prefix(existing).unwrap_or(Path::new(""));
        let directory = canonical.join(rest);
        std::fs::create_dir_all(&directory)
            .map_err(|err| format!("cannot create the directory for {path}: {err}"))?;
        // Checked again: a directory could have been swapped for a link.
        let directory = directory
            .canonicalize()
            .map_err(|err| format!("cannot resolve the directory of {path}: {err}"))?;
        if !directory.starts_with(&self.canonical) {
            return Err(self.symlink_out(path));
        }
        Ok(directory.join(name))
    }

    /// How `path` (absolute, checked) is shown to the model: relative to
    /// the workspace.
    pub(crate) fn display(&self, path: &Path) -> String {
        match path.strip_prefix(&self.canonical) {
            Ok(rest) if rest.as_os_str().is_empty() => ".".to_owned(),
            Ok(rest) => rest.display().to_string(),
            Err(_) => path.display().to_string(),
        }
    }

    fn outside(&self, path: &str) -> String {
        format!(
            "{path} is outside the workspace ({}); use a path relative to it, without climbing out with ..",
            self.dir.display()
        )
    }

    fn symlink_out(&self, path: &str) -> String {
        format!(
            "{path} leads out of the workspace ({}) through a symbolic link; only files inside it can be used",
            self.dir.display()
        )
    }
}

/// `path` with `.` dropped and each `..` removing the component before it,
/// without touching the disk. `..` at the root stays at the root.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizing_is_lexical() {
        assert_eq!(
            normalize(Path::new("/a/b/../c/./d")),
            PathBuf::from("/a/c/d")
        );
        assert_eq!(normalize(Path::new("/a/../../..")), PathBuf::from("/"));
    }

    #[test]
    fn lexical_paths_stay_inside() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::open(dir.path().join("ws")).unwrap();
        let root = ws.canonical().to_owned();
        assert_eq!(ws.lexical("a/b.txt").unwrap(), root.join("a/b.txt"));
        assert_eq!(ws.lexical("a/../b.txt").unwrap(), root.join("b.txt"));
        assert_eq!(
            ws.lexical(root.join("x").to_str().unwrap()).unwrap(),
            root.join("x")
        );
        assert!(
            ws.lexical("../x")
                .unwrap_err()
                .contains("outside the workspace")
        );
        assert!(ws.lexical("a/../../x").is_err());
        assert!(ws.lexical("/etc/passwd").is_err());
        assert!(ws.lexical("").is_err());
        assert_eq!(ws.display(&root.join("a/b")), "a/b");
    }
}
