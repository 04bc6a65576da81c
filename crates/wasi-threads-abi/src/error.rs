//! Errors from loading WIT or WITX into the model.

use std::fmt;
use std::path::PathBuf;

/// What went wrong while loading an interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadErrorKind {
    /// The file or directory could not be read.
    Io,
    /// The text did not parse or validate; the message carries the
    /// parser's file:line:col.
    Parse,
    /// The text is valid but the selection is not: unknown world or
    /// interface, an ambiguous package, or two functions that would share
    /// one core import name.
    Selection,
}

/// An error loading an interface, naming the file it came from.
#[derive(Clone, Debug)]
pub struct LoadError {
    pub kind: LoadErrorKind,
    pub path: PathBuf,
    pub message: String,
}

impl LoadError {
    pub fn new(kind: LoadErrorKind, path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        LoadError {
            kind,
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            LoadErrorKind::Io => "cannot read",
            LoadErrorKind::Parse => "invalid",
            LoadErrorKind::Selection => "cannot model",
        };
        write!(f, "{what} {}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for LoadError {}
