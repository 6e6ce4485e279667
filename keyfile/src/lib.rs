//! Ed25519 signing keys in files (the relay's key, a virtual client's key): text form,
//! loading and first-run generation with owner-only permissions.

use base64::Engine as _;
use std::path::Path;

/// Why a key could not be loaded or saved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// The key file could not be read or written.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The IO error.
        source: std::io::Error,
    },
    /// The text is not a 32-byte base64url Ed25519 seed.
    #[error("key is not 43 characters of base64url (a 32-byte Ed25519 seed)")]
    Format,
    /// No entropy for a new key.
    #[error("no randomness available to generate a key: {0}")]
    Random(String),
}

/// Parses the text form of a signing key (base64url of the 32-byte seed, surrounding whitespace ignored).
pub fn parse_signing_key(text: &str) -> Result<ed25519_dalek::SigningKey, KeyFileError> {
    let bytes =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text.trim()).map_err(|_| KeyFileError::Format)?;
    let seed: [u8; 32] = bytes.try_into().map_err(|_| KeyFileError::Format)?;
    Ok(ed25519_dalek::SigningKey::from_bytes(&seed))
}

/// The text form of a signing key.
pub fn format_signing_key(key: &ed25519_dalek::SigningKey) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.to_bytes())
}

/// A fresh random signing key.
pub fn generate_signing_key() -> Result<ed25519_dalek::SigningKey, KeyFileError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| KeyFileError::Random(e.to_string()))?;
    Ok(ed25519_dalek::SigningKey::from_bytes(&seed))
}

/// Loads the key at `path`, or creates it (mode 0600) when the file does not exist.
/// Returns the key and whether it was newly generated.
pub fn load_or_create(path: &Path) -> Result<(ed25519_dalek::SigningKey, bool), KeyFileError> {
    let io = |source| KeyFileError::Io { path: path.display().to_string(), source };
    match std::fs::read_to_string(path) {
        Ok(text) => Ok((parse_signing_key(&text)?, false)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let key = generate_signing_key()?;
            write_private(path, &format!("{}\n", format_signing_key(&key))).map_err(io)?;
            Ok((key, true))
        }
        Err(err) => Err(io(err)),
    }
}

/// Loads the key at `path`; the file must exist.
pub fn load(path: &Path) -> Result<ed25519_dalek::SigningKey, KeyFileError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| KeyFileError::Io { path: path.display().to_string(), source })?;
    parse_signing_key(&text)
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_text_round_trips_and_rejects_garbage() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
        let text = format_signing_key(&key);
        assert_eq!(parse_signing_key(&format!(" {text}\n")).map(|k| k.to_bytes()).ok(), Some(key.to_bytes()));
        assert!(matches!(parse_signing_key("nope"), Err(KeyFileError::Format)));
    }

    #[test]
    fn load_or_create_generates_once_then_reuses() {
        let dir = std::env::temp_dir().join(format!("catalk-key-test-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("relay.key");
        let _ = std::fs::remove_file(&path);
        let (first, created) = load_or_create(&path).expect("create");
        assert!(created);
        let (second, created_again) = load_or_create(&path).expect("reload");
        assert!(!created_again);
        assert_eq!(first.to_bytes(), second.to_bytes());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
