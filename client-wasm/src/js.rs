//! Conversions between Rust values and the plain JavaScript objects of docs/client-api.md.

use js_sys::{Object, Reflect};
use serde::Serialize;
use wasm_bindgen::JsValue;

/// Serialises `value` as a plain JS object (maps become objects).
pub fn to_js<T: Serialize>(value: &T) -> JsValue {
    let serializer = serde_wasm_bindgen::Serializer::json_compatible();
    value.serialize(&serializer).unwrap_or(JsValue::NULL)
}

/// A `{ code, message }` object, the shape of every rejected promise.
pub fn error(code: &str, message: &str) -> JsValue {
    let object = Object::new();
    let _ = Reflect::set(&object, &"code".into(), &code.into());
    let _ = Reflect::set(&object, &"message".into(), &message.into());
    object.into()
}
