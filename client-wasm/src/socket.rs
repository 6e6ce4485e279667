//! A browser WebSocket whose events feed callbacks; dropping it detaches them.

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use web_sys::{CloseEvent, Event, MessageEvent, WebSocket};

/// Callbacks for one socket.
pub struct Handlers {
    /// The socket opened.
    pub on_open: Box<dyn FnMut()>,
    /// A text message arrived.
    pub on_text: Box<dyn FnMut(String)>,
    /// The socket closed (or failed to open).
    pub on_close: Box<dyn FnMut()>,
}

/// An open (or opening) socket and the closures attached to it.
pub struct Socket {
    ws: WebSocket,
    _open: Closure<dyn FnMut(Event)>,
    _message: Closure<dyn FnMut(MessageEvent)>,
    _close: Closure<dyn FnMut(CloseEvent)>,
}

impl Socket {
    /// Opens `url` and wires `handlers`.
    pub fn open(url: &str, handlers: Handlers) -> Result<Self, String> {
        let ws = WebSocket::new(url).map_err(|e| format!("{e:?}"))?;
        let Handlers { mut on_open, mut on_text, mut on_close } = handlers;
        let open = Closure::<dyn FnMut(Event)>::new(move |_| on_open());
        let message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            if let Some(text) = event.data().as_string() {
                on_text(text);
            }
        });
        let close = Closure::<dyn FnMut(CloseEvent)>::new(move |_| on_close());
        ws.set_onopen(Some(open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(close.as_ref().unchecked_ref()));
        Ok(Self { ws, _open: open, _message: message, _close: close })
    }

    /// Sends a text frame; false if the socket is not open.
    pub fn send(&self, text: &str) -> bool {
        self.ws.send_with_str(text).is_ok()
    }

    /// Starts closing; the close callback follows.
    pub fn close(&self) {
        let _ = self.ws.close();
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        let _ = self.ws.close();
    }
}
