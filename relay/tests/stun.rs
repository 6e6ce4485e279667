//! The relay's STUN responder on a real UDP socket: a Binding request gets the
//! sender's address back, anything else gets nothing, both are counted.

use catalk_testkit::{TestRelay, http_get, relay_config};
use rtc_stun::message::{BINDING_REQUEST, BINDING_SUCCESS, Getter, Message};
use rtc_stun::xoraddr::XorMappedAddress;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UdpSocket;

fn binding_request() -> Message {
    let mut request = Message::new();
    request.new_transaction_id().expect("a transaction id");
    request.set_type(BINDING_REQUEST);
    request.encode();
    request
}

#[tokio::test]
async fn the_relay_answers_stun_binding_requests_on_its_udp_socket() -> anyhow::Result<()> {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
    let stun_addr = socket.local_addr()?;
    let mut config = relay_config();
    config.stun_socket = Some(Arc::new(socket));
    let relay = TestRelay::start(config).await?;

    let client = UdpSocket::bind("127.0.0.1:0").await?;
    client.send_to(b"not stun at all", stun_addr).await?;
    let request = binding_request();
    client.send_to(&request.raw, stun_addr).await?;
    let mut buffer = [0u8; 1500];
    let (len, from) = tokio::time::timeout(Duration::from_secs(5), client.recv_from(&mut buffer)).await??;
    assert_eq!(from, stun_addr);
    let mut response = Message::new();
    response.unmarshal_binary(&buffer[..len])?;
    assert_eq!(response.typ, BINDING_SUCCESS);
    assert_eq!(response.transaction_id, request.transaction_id);
    let mut mapped = XorMappedAddress::default();
    mapped.get_from(&response)?;
    assert_eq!(std::net::SocketAddr::new(mapped.ip, mapped.port), client.local_addr()?);

    let (_, metrics) = http_get(relay.addr, "/metrics").await?;
    assert!(metrics.contains("catalk_stun_datagrams_total{result=\"answered\"} 1"), "{metrics}");
    assert!(metrics.contains("catalk_stun_datagrams_total{result=\"ignored\"} 1"), "{metrics}");
    relay.stop().await
}
