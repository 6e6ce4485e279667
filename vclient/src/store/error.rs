//! Why opening the store failed, and how redb's errors become [`StoreError`]s.

use catalk_core::StoreError;
use std::io;
use std::path::{Path, PathBuf};

/// Why [`super::DiskStore::open`] failed. Each message is one line naming the
/// store path, fit to print as a configuration error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreOpenError {
    /// The directory that should hold the store file does not exist (or is not a directory).
    #[error("store path {} is not in an existing directory: {} is missing or not a directory", path.display(), dir.display())]
    MissingDirectory {
        /// The store path asked for.
        path: PathBuf,
        /// Its parent directory.
        dir: PathBuf,
    },
    /// The file or its directory may not be written (permissions, read-only file system).
    #[error("store path {} is not writable: {source}", path.display())]
    NotWritable {
        /// The store path asked for.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
    /// Another process (or another handle in this one) has the store open.
    #[error("store path {} is already in use (open in another process or handle)", path.display())]
    InUse {
        /// The store path asked for.
        path: PathBuf,
    },
    /// The file exists but cannot be used as a store: not a redb file, corrupt, a directory, ...
    #[error("store path {} cannot be opened as a history store: {source}", path.display())]
    Unusable {
        /// The store path asked for.
        path: PathBuf,
        /// redb's reason.
        source: redb::Error,
    },
}

impl StoreOpenError {
    /// Classifies a redb error met while opening or initialising the file at `path`.
    pub(super) fn classify(path: &Path, error: impl Into<redb::Error>) -> Self {
        let path = path.to_path_buf();
        match error.into() {
            redb::Error::DatabaseAlreadyOpen | redb::Error::LockProtocolMismatch => Self::InUse { path },
            redb::Error::Io(source)
                if matches!(source.kind(), io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem) =>
            {
                Self::NotWritable { path, source }
            }
            source => Self::Unusable { path, source },
        }
    }
}

/// Maps a redb error met during an operation to the store trait's error.
pub(super) fn backend(error: impl Into<redb::Error>) -> StoreError {
    match error.into() {
        redb::Error::Io(e) if e.kind() == io::ErrorKind::StorageFull => StoreError::QuotaExceeded,
        redb::Error::Corrupted(what) => StoreError::Corrupt(what),
        other => StoreError::Backend(other.to_string()),
    }
}
