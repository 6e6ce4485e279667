//! Carries out one driver [`Output`]: the relay socket, the IndexedDB store,
//! the page's events and the answers to requests. WebRTC links are in
//! `links.rs`, verification in `verify.rs`.

use super::Shell;
use crate::js;
use crate::socket::{Handlers, Socket};
use catalk_core::client::{Input, Output, StoreQuery, run_query};
use catalk_core::{Event, HistoryStore};
use catalk_proto::Fact;
use std::rc::Rc;
use wasm_bindgen_futures::spawn_local;

impl Shell {
    /// Does what `output` asks; answers come back as inputs, now or in a later turn.
    pub(super) fn carry_out(self: &Rc<Self>, output: Output) {
        match output {
            Output::OpenSocket => self.open_socket(),
            Output::CloseSocket => {
                if let Some(socket) = self.socket.borrow().as_ref() {
                    socket.close();
                }
            }
            Output::ToRelay(text) => {
                if let Some(socket) = self.socket.borrow().as_ref() {
                    socket.send(&text);
                }
            }
            Output::MakeOffer { link, ice_servers } => self.make_offer(link, &ice_servers),
            Output::MakeAnswer { link, sdp, ice_servers } => self.make_answer(link, sdp, &ice_servers),
            Output::AcceptAnswer { link, sdp } => self.accept_answer(link, &sdp),
            Output::CloseLink { link } => self.close_link(link),
            Output::ToPeer { link, text } => self.to_peer(link, text),
            Output::Load { ticket, query } => self.load(ticket, query),
            Output::Put { ticket, facts } => self.put(ticket, facts),
            Output::Verify { ticket, facts, trusted } => self.verify(ticket, facts, trusted),
            Output::Event(event) => self.event(&event),
            Output::Resolve { rid, result } => {
                let reply = self.pending.borrow_mut().remove(&rid);
                if let Some(reply) = reply {
                    let _ = reply.send(result);
                }
            }
            other => web_sys::console::warn_1(&format!("catalk: output not carried out: {other:?}").into()),
        }
    }

    fn open_socket(self: &Rc<Self>) {
        let generation = self.generation.get() + 1;
        self.generation.set(generation);
        let weak = Rc::downgrade(self);
        let report = move |input: Input| {
            if let Some(shell) = weak.upgrade().filter(|shell| shell.generation.get() == generation) {
                shell.feed(input);
                shell.pump();
            }
        };
        let (open, text, close) = (report.clone(), report.clone(), report);
        let handlers = Handlers {
            on_open: Box::new(move || open(Input::SocketOpen)),
            on_text: Box::new(move |frame| text(Input::SocketText(frame))),
            on_close: Box::new(move || close(Input::SocketClosed { random: js_sys::Math::random() })),
        };
        match Socket::open(&self.url, handlers) {
            Ok(socket) => {
                let previous = self.socket.replace(Some(socket));
                drop(previous);
            }
            Err(err) => {
                web_sys::console::warn_1(&format!("catalk: cannot open {}: {err}", self.url).into());
                self.feed(Input::SocketClosed { random: js_sys::Math::random() });
            }
        }
    }

    fn load(self: &Rc<Self>, ticket: u64, query: StoreQuery) {
        let (shell, epoch) = (Rc::clone(self), self.epoch.get());
        spawn_local(async move {
            let result = run_query(&shell.store, &query).await;
            shell.answer(epoch, Input::Loaded { ticket, result });
        });
    }

    fn put(self: &Rc<Self>, ticket: u64, facts: Vec<Fact>) {
        let (shell, epoch) = (Rc::clone(self), self.epoch.get());
        spawn_local(async move {
            let result = shell.store.put_facts(&facts).await.map(drop);
            shell.answer(epoch, Input::Stored { ticket, result });
        });
    }

    fn event(self: &Rc<Self>, event: &Event) {
        match event {
            Event::Presence { online } => {
                self.remember_names(online.iter().map(|p| (p.key.as_str(), p.name.as_str())));
            }
            Event::Names { people } => self.remember_names(people.iter().map(|p| (p.key.as_str(), p.name.as_str()))),
            Event::Error { code, message } => web_sys::console::error_1(&format!("catalk: {code}: {message}").into()),
            _ => {}
        }
        self.emit(&js::to_js(event));
    }

    /// Keeps display names for `nameOf` (the driver stores each person's card in IndexedDB,
    /// where they are read back after a reload).
    fn remember_names<'a>(&self, people: impl Iterator<Item = (&'a str, &'a str)>) {
        let mut names = self.names.borrow_mut();
        for (key, name) in people {
            if names.get(key).map(String::as_str) != Some(name) {
                names.insert(key.to_owned(), name.to_owned());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use catalk_core::{Event, StoreError};

    fn json(event: &Event) -> serde_json::Value {
        serde_json::to_value(event).unwrap_or_default()
    }

    #[test]
    fn driver_events_keep_the_shapes_the_web_app_reads() {
        let general = catalk_proto::ChannelName::general();
        let history = Event::History { channel: general.clone(), status: catalk_core::sync::HistoryStatus::Complete };
        assert_eq!(
            json(&history),
            serde_json::json!({"type": "history", "channel": "general", "status": {"state": "complete"}})
        );
        let backfill = Event::Backfill { channel: general, count: 3 };
        assert_eq!(json(&backfill), serde_json::json!({"type": "backfill", "channel": "general", "count": 3}));
        let error = json(&Event::storage_error("Saving display names", &StoreError::QuotaExceeded));
        assert_eq!(error["type"], "error");
        assert_eq!(error["code"], "quota_exceeded");
        assert!(error["message"].is_string());
    }
}
