//! Thin calls into WebCrypto (AES-GCM, PBKDF2, random bytes) with typed errors.

use js_sys::{Array, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{CryptoKey, SubtleCrypto};

/// Why a WebCrypto call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// WebCrypto is unavailable (e.g. not a secure context).
    #[error("WebCrypto is unavailable: {0}")]
    Unavailable(String),
    /// Decryption failed: wrong key or passphrase, or tampered data.
    #[error("decryption failed")]
    Decrypt,
    /// Another failure.
    #[error("WebCrypto: {0}")]
    Failed(String),
}

fn failed(err: JsValue) -> CryptoError {
    CryptoError::Failed(format!("{err:?}"))
}

/// Whether WebCrypto's `subtle` API is usable: browsers offer it only in secure
/// contexts (https, or http on localhost).
pub fn available() -> bool {
    web_sys::window()
        .filter(|w| w.is_secure_context())
        .and_then(|w| w.crypto().ok())
        .and_then(|c| Reflect::get(&c, &JsValue::from_str("subtle")).ok())
        .is_some_and(|s| !s.is_undefined() && !s.is_null())
}

fn subtle() -> Result<SubtleCrypto, CryptoError> {
    if !available() {
        return Err(CryptoError::Unavailable(
            "WebCrypto needs a secure context: open the app over https or on localhost".into(),
        ));
    }
    let window = web_sys::window().ok_or_else(|| CryptoError::Unavailable("no window".into()))?;
    let crypto = window.crypto().map_err(|e| CryptoError::Unavailable(format!("{e:?}")))?;
    Ok(crypto.subtle())
}

fn object(pairs: &[(&str, &JsValue)]) -> Result<Object, CryptoError> {
    let object = Object::new();
    for (key, value) in pairs {
        Reflect::set(&object, &JsValue::from_str(key), value).map_err(failed)?;
    }
    Ok(object)
}

fn usages(list: &[&str]) -> Array {
    list.iter().map(|u| JsValue::from_str(u)).collect()
}

async fn wait(promise: Result<Promise, JsValue>) -> Result<JsValue, CryptoError> {
    JsFuture::from(promise.map_err(failed)?).await.map_err(failed)
}

/// `n` random bytes from the platform CSPRNG.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| CryptoError::Unavailable(e.to_string()))?;
    Ok(bytes)
}

/// A new non-extractable AES-256-GCM key for wrapping secrets at rest.
pub async fn generate_wrapping_key() -> Result<CryptoKey, CryptoError> {
    let algorithm = object(&[("name", &"AES-GCM".into()), ("length", &256.into())])?;
    let key = wait(subtle()?.generate_key_with_object(&algorithm, false, &usages(&["encrypt", "decrypt"]))).await?;
    key.dyn_into::<CryptoKey>().map_err(failed)
}

/// A non-extractable AES-256-GCM key derived from `passphrase` with PBKDF2-SHA-256.
pub async fn derive_passphrase_key(passphrase: &str, salt: &[u8], iterations: u32) -> Result<CryptoKey, CryptoError> {
    let subtle = subtle()?;
    let raw = Uint8Array::from(passphrase.as_bytes());
    let base = wait(subtle.import_key_with_str("raw", &raw, "PBKDF2", false, &usages(&["deriveKey"]))).await?;
    let base: CryptoKey = base.dyn_into().map_err(failed)?;
    let params = object(&[
        ("name", &"PBKDF2".into()),
        ("hash", &"SHA-256".into()),
        ("salt", &Uint8Array::from(salt).into()),
        ("iterations", &iterations.into()),
    ])?;
    let target = object(&[("name", &"AES-GCM".into()), ("length", &256.into())])?;
    let key = wait(subtle.derive_key_with_object_and_object(
        &params,
        &base,
        &target,
        false,
        &usages(&["encrypt", "decrypt"]),
    ))
    .await?;
    key.dyn_into::<CryptoKey>().map_err(failed)
}

fn gcm(iv: &[u8], aad: &[u8]) -> Result<Object, CryptoError> {
    object(&[
        ("name", &"AES-GCM".into()),
        ("iv", &Uint8Array::from(iv).into()),
        ("additionalData", &Uint8Array::from(aad).into()),
    ])
}

/// AES-GCM encryption of `plain` under `key` with a fresh 12-byte IV; returns (iv, ciphertext).
pub async fn encrypt(key: &CryptoKey, plain: &[u8], aad: &[u8]) -> Result<(Vec<u8>, Vec<u8>), CryptoError> {
    let iv: [u8; 12] = random_bytes()?;
    let out = wait(subtle()?.encrypt_with_object_and_u8_array(&gcm(&iv, aad)?, key, plain)).await?;
    Ok((iv.to_vec(), Uint8Array::new(&out).to_vec()))
}

/// AES-GCM decryption; a wrong key or tampered data is [`CryptoError::Decrypt`].
pub async fn decrypt(key: &CryptoKey, iv: &[u8], cipher: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let promise = subtle()?.decrypt_with_object_and_u8_array(&gcm(iv, aad)?, key, cipher).map_err(failed)?;
    let out = JsFuture::from(promise).await.map_err(|_| CryptoError::Decrypt)?;
    Ok(Uint8Array::new(&out).to_vec())
}
