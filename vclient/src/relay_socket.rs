//! The websocket to the relay: one task reads, one writes; both report to the
//! shell through its event queue, tagged with the connection's generation so
//! that events of an old socket are ignored.

use crate::shell::Internal;
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// The write side of an open (or opening) relay connection. Dropping it closes the socket.
#[derive(Debug)]
pub struct RelaySocket {
    outgoing: mpsc::UnboundedSender<String>,
}

impl RelaySocket {
    /// Starts connecting to `url`; reports `SocketOpen`, `SocketText` and finally `SocketClosed`.
    pub fn open(url: &str, generation: u64, events: mpsc::UnboundedSender<Internal>) -> Self {
        let (outgoing, mut queue) = mpsc::unbounded_channel::<String>();
        let url = url.to_owned();
        tokio::spawn(async move {
            let stream = match tokio_tungstenite::connect_async(url.as_str()).await {
                Ok((stream, _)) => stream,
                Err(err) => {
                    tracing::warn!(%url, %err, "cannot reach the relay");
                    let _ = events.send(Internal::SocketClosed { generation });
                    return;
                }
            };
            let _ = events.send(Internal::SocketOpen { generation });
            let (mut sink, mut source) = stream.split();
            let writer = async {
                while let Some(text) = queue.recv().await {
                    if sink.send(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                }
                let _ = sink.close().await;
            };
            let reader = async {
                while let Some(message) = source.next().await {
                    match message {
                        Ok(Message::Text(text)) => {
                            let _ = events.send(Internal::SocketText { generation, text: text.to_string() });
                        }
                        Ok(Message::Close(_)) | Err(_) => return,
                        Ok(_) => {}
                    }
                }
            };
            tokio::select! {
                () = writer => {}
                () = reader => {}
            }
            let _ = events.send(Internal::SocketClosed { generation });
        });
        Self { outgoing }
    }

    /// Queues a frame.
    pub fn send(&self, text: String) {
        let _ = self.outgoing.send(text);
    }
}

/// Why the relay could not be reached at start.
#[derive(Debug, thiserror::Error)]
#[error("cannot reach a catalk relay at {url}: {reason}")]
pub struct ProbeError {
    url: String,
    reason: String,
}

/// Checks once that `url` is a catalk relay (it sends a `challenge`), so a wrong URL is
/// reported at start instead of retried forever.
pub async fn probe(url: &str, timeout: std::time::Duration) -> Result<(), ProbeError> {
    let fail = |reason: String| ProbeError { url: url.to_owned(), reason };
    let attempt = async {
        let (mut stream, _) = tokio_tungstenite::connect_async(url).await.map_err(|e| fail(e.to_string()))?;
        while let Some(message) = stream.next().await {
            match message {
                Ok(Message::Text(text)) => {
                    let _ = stream.close(None).await;
                    return match serde_json::from_str::<catalk_proto::ServerFrame>(&text) {
                        Ok(catalk_proto::ServerFrame::Challenge { .. }) => Ok(()),
                        _ => Err(fail("it did not send a login challenge".into())),
                    };
                }
                Ok(_) => {}
                Err(err) => return Err(fail(err.to_string())),
            }
        }
        Err(fail("the connection closed before a challenge".into()))
    };
    tokio::time::timeout(timeout, attempt).await.map_err(|_| fail(format!("no answer within {timeout:?}")))?
}
