//! The user's key: created on the device, kept encrypted at rest under a
//! non-extractable WebCrypto key, backed up and restored as a
//! passphrase-encrypted file (PBKDF2-SHA-256, 600,000 iterations, AES-256-GCM).

use crate::idb_store::IdbStore;
use crate::webcrypto::{self, CryptoError};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use catalk_core::StoreError;
use catalk_proto::{DisplayName, PublicKey};
use serde::{Deserialize, Serialize};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::CryptoKey;

/// PBKDF2 iterations for backups (OWASP 2023 guidance for PBKDF2-HMAC-SHA256).
const BACKUP_ITERATIONS: u32 = 600_000;
const IDENTITY_KEY: &str = "identity";
const WRAPPING_KEY: &str = "wrapping-key";

/// Why an identity operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// IndexedDB failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// WebCrypto failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// The passphrase does not open this backup.
    #[error("the passphrase does not open this backup")]
    BadPassphrase,
    /// The file is not a catalk key backup.
    #[error("not a catalk key backup: {0}")]
    BadBackup(String),
    /// The display name is not acceptable.
    #[error("display name: {0}")]
    BadName(String),
}

/// The user's signing key and display name.
#[derive(Clone)]
pub struct Identity {
    /// The signing key (in memory only while the page runs).
    pub key: ed25519_dalek::SigningKey,
    /// Display name.
    pub name: DisplayName,
}

impl Identity {
    /// The public key.
    pub fn public(&self) -> PublicKey {
        PublicKey::of(&self.key)
    }

    /// A short human form of the public key: `abcd-efgh-ijkl-mnop`.
    pub fn fingerprint(&self) -> String {
        let text = self.public().to_string();
        let chars: Vec<char> = text.chars().take(16).collect();
        chars.chunks(4).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join("-")
    }
}

/// The identity record at rest: the seed encrypted under the wrapping key, or,
/// where WebCrypto is unavailable (plain http on a LAN address), the seed itself
/// with `plain` set, so the app still works there.
#[derive(Serialize, Deserialize)]
struct StoredIdentity {
    public: String,
    name: String,
    iv: String,
    seed: String,
    #[serde(default)]
    plain: bool,
}

/// The backup file.
#[derive(Serialize, Deserialize)]
struct Backup {
    catalk_key_backup: u32,
    public: String,
    name: String,
    kdf: String,
    iterations: u32,
    salt: String,
    iv: String,
    ciphertext: String,
}

fn decode(text: &str) -> Result<Vec<u8>, IdentityError> {
    B64.decode(text).map_err(|e| IdentityError::BadBackup(e.to_string()))
}

fn seed_of(bytes: Vec<u8>) -> Result<ed25519_dalek::SigningKey, IdentityError> {
    let seed: [u8; 32] = bytes.try_into().map_err(|_| IdentityError::BadBackup("the key is not 32 bytes".into()))?;
    Ok(ed25519_dalek::SigningKey::from_bytes(&seed))
}

async fn wrapping_key(store: &IdbStore) -> Result<CryptoKey, IdentityError> {
    if let Some(value) = store.get_meta(WRAPPING_KEY).await?
        && let Ok(key) = value.dyn_into::<CryptoKey>()
    {
        return Ok(key);
    }
    let key = webcrypto::generate_wrapping_key().await?;
    store.put_meta(WRAPPING_KEY, &key).await?;
    Ok(key)
}

/// Loads the identity stored on this device, if any.
pub async fn load(store: &IdbStore) -> Result<Option<Identity>, IdentityError> {
    let Some(value) = store.get_meta(IDENTITY_KEY).await? else { return Ok(None) };
    let Some(text) = value.as_string() else { return Ok(None) };
    let stored: StoredIdentity =
        serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("identity record: {e}")))?;
    let public = decode(&stored.public)?;
    let seed = if stored.plain {
        decode(&stored.seed)?
    } else {
        let wrap = wrapping_key(store).await?;
        webcrypto::decrypt(&wrap, &decode(&stored.iv)?, &decode(&stored.seed)?, &public)
            .await
            .map_err(|_| StoreError::Corrupt("the identity cannot be unwrapped on this device".into()))?
    };
    let key = seed_of(seed)?;
    let name = DisplayName::new(&stored.name).map_err(|e| IdentityError::BadName(e.to_string()))?;
    Ok(Some(Identity { key, name }))
}

/// Saves `identity`, encrypting the seed under this device's wrapping key.
pub async fn save(store: &IdbStore, identity: &Identity) -> Result<(), IdentityError> {
    let public = identity.public();
    let stored = if webcrypto::available() {
        let wrap = wrapping_key(store).await?;
        let (iv, seed) = webcrypto::encrypt(&wrap, identity.key.as_bytes(), public.as_bytes()).await?;
        StoredIdentity {
            public: B64.encode(public.as_bytes()),
            name: identity.name.to_string(),
            iv: B64.encode(iv),
            seed: B64.encode(seed),
            plain: false,
        }
    } else {
        web_sys::console::warn_1(
            &"catalk: no WebCrypto here (not a secure context); the key is stored unwrapped on this device".into(),
        );
        StoredIdentity {
            public: B64.encode(public.as_bytes()),
            name: identity.name.to_string(),
            iv: String::new(),
            seed: B64.encode(identity.key.as_bytes()),
            plain: true,
        }
    };
    let text = serde_json::to_string(&stored).map_err(|e| StoreError::Backend(e.to_string()))?;
    store.put_meta(IDENTITY_KEY, &JsValue::from_str(&text)).await?;
    Ok(())
}

/// Creates a new key pair on this device and saves it.
pub async fn create(store: &IdbStore, name: &str) -> Result<Identity, IdentityError> {
    let name = DisplayName::new(name).map_err(|e| IdentityError::BadName(e.to_string()))?;
    let seed: [u8; 32] = webcrypto::random_bytes()?;
    let identity = Identity { key: ed25519_dalek::SigningKey::from_bytes(&seed), name };
    save(store, &identity).await?;
    Ok(identity)
}

/// The backup file for `identity`, encrypted with `passphrase`.
pub async fn export_backup(identity: &Identity, passphrase: &str) -> Result<String, IdentityError> {
    let salt: [u8; 16] = webcrypto::random_bytes()?;
    let key = webcrypto::derive_passphrase_key(passphrase, &salt, BACKUP_ITERATIONS).await?;
    let public = identity.public();
    let (iv, ciphertext) = webcrypto::encrypt(&key, identity.key.as_bytes(), public.as_bytes()).await?;
    let backup = Backup {
        catalk_key_backup: 1,
        public: public.to_string(),
        name: identity.name.to_string(),
        kdf: "PBKDF2-SHA-256".into(),
        iterations: BACKUP_ITERATIONS,
        salt: B64.encode(salt),
        iv: B64.encode(iv),
        ciphertext: B64.encode(ciphertext),
    };
    serde_json::to_string_pretty(&backup).map_err(|e| IdentityError::BadBackup(e.to_string()))
}

/// Opens a backup file with `passphrase`.
pub async fn import_backup(text: &str, passphrase: &str) -> Result<Identity, IdentityError> {
    let backup: Backup = serde_json::from_str(text).map_err(|e| IdentityError::BadBackup(e.to_string()))?;
    if backup.catalk_key_backup != 1 || backup.kdf != "PBKDF2-SHA-256" || backup.iterations < 100_000 {
        return Err(IdentityError::BadBackup("unsupported backup version or parameters".into()));
    }
    let public: PublicKey = backup.public.parse().map_err(|e| IdentityError::BadBackup(format!("{e}")))?;
    let key = webcrypto::derive_passphrase_key(passphrase, &decode(&backup.salt)?, backup.iterations).await?;
    let seed = webcrypto::decrypt(&key, &decode(&backup.iv)?, &decode(&backup.ciphertext)?, public.as_bytes())
        .await
        .map_err(|_| IdentityError::BadPassphrase)?;
    let signing = seed_of(seed)?;
    if PublicKey::of(&signing) != public {
        return Err(IdentityError::BadBackup("the key does not match its public key".into()));
    }
    let name = DisplayName::new(&backup.name).map_err(|e| IdentityError::BadName(e.to_string()))?;
    Ok(Identity { key: signing, name })
}
