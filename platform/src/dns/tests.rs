//! The handler's answers, asked directly: A, NXDOMAIN with SOA, REFUSED, the apex.

use super::*;
use hickory_server::proto::op::{Message, Query};
use std::str::FromStr;

fn handler() -> DnsHandler {
    let directory = Arc::new(Directory::default());
    directory.publish(
        1,
        Some("app.local.waci.localhost"),
        Some(std::net::Ipv4Addr::new(127, 77, 0, 5)),
    );
    DnsHandler::new("waci.localhost", directory, "127.0.0.1".parse().unwrap()).unwrap()
}

fn query(id: u16, name: &str, kind: MessageType) -> Vec<u8> {
    let mut msg = Message::new(id, kind, OpCode::Query);
    msg.add_query(Query::query(Name::from_str(name).unwrap(), RecordType::A));
    msg.to_vec().unwrap()
}

#[tokio::test]
async fn udp_answers_queries_refuses_garbage_and_ignores_answers() {
    let h = handler();
    let src: SocketAddr = "127.0.0.1:5000".parse().unwrap();

    let bytes = h
        .answer_udp(
            &query(7, "app.local.waci.localhost.", MessageType::Query),
            src,
        )
        .await
        .expect("an answer");
    let answer = Message::from_vec(&bytes).unwrap();
    assert_eq!(answer.metadata.id, 7);
    assert_eq!(answer.metadata.response_code, ResponseCode::NoError);
    assert!(answer.metadata.authoritative);
    assert!(
        matches!(&answer.answers[0].data, RData::A(a) if a.0 == std::net::Ipv4Addr::new(127, 77, 0, 5))
    );

    let nx = h
        .answer_udp(
            &query(8, "nope.local.waci.localhost.", MessageType::Query),
            src,
        )
        .await
        .expect("an answer");
    assert_eq!(
        Message::from_vec(&nx).unwrap().metadata.response_code,
        ResponseCode::NXDomain
    );

    // A header followed by garbage: FORMERR, with the query's id.
    let mut bad = query(9, "app.local.waci.localhost.", MessageType::Query);
    bad.truncate(14);
    let formerr = h.answer_udp(&bad, src).await.expect("an answer");
    let formerr = Message::from_vec(&formerr).unwrap();
    assert_eq!(
        (formerr.metadata.id, formerr.metadata.response_code),
        (9, ResponseCode::FormErr)
    );

    // Shorter than a header, or a response: nothing.
    assert!(h.answer_udp(&[1, 2, 3], src).await.is_none());
    let reflected = query(10, "app.local.waci.localhost.", MessageType::Response);
    assert!(h.answer_udp(&reflected, src).await.is_none());
}
