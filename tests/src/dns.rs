//! A small DNS client over the real wire format (hickory-proto), UDP or TCP.

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use std::net::{Ipv4Addr, SocketAddr};
use std::str::FromStr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Debug)]
pub struct Answer {
    pub rcode: ResponseCode,
    pub authoritative: bool,
    pub a: Vec<Ipv4Addr>,
    pub answer_types: Vec<RecordType>,
    pub authority_types: Vec<RecordType>,
}

fn query(name: &str, rtype: RecordType) -> Vec<u8> {
    let mut msg = Message::new(rand_id(), MessageType::Query, OpCode::Query);
    msg.add_query(Query::query(
        Name::from_str(name).expect("a DNS name"),
        rtype,
    ));
    msg.to_vec().expect("encodes")
}

fn rand_id() -> u16 {
    (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos()
        & 0xffff) as u16
}

fn answer(bytes: &[u8]) -> Answer {
    let msg = Message::from_vec(bytes).expect("a DNS response");
    Answer {
        rcode: msg.metadata.response_code,
        authoritative: msg.metadata.authoritative,
        a: msg
            .answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::A(a) => Some(a.0),
                _ => None,
            })
            .collect(),
        answer_types: msg.answers.iter().map(|r| r.record_type()).collect(),
        authority_types: msg.authorities.iter().map(|r| r.record_type()).collect(),
    }
}

pub async fn udp(server: SocketAddr, name: &str, rtype: RecordType) -> Answer {
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("udp socket");
    sock.send_to(&query(name, rtype), server)
        .await
        .expect("send");
    let mut buf = vec![0u8; 4096];
    let (n, _) = tokio::time::timeout(std::time::Duration::from_secs(5), sock.recv_from(&mut buf))
        .await
        .expect("a DNS answer within 5 s")
        .expect("recv");
    answer(&buf[..n])
}

pub async fn tcp(server: SocketAddr, name: &str, rtype: RecordType) -> Answer {
    let mut s = tokio::net::TcpStream::connect(server)
        .await
        .expect("tcp connect");
    let q = query(name, rtype);
    s.write_all(&(q.len() as u16).to_be_bytes())
        .await
        .expect("write");
    s.write_all(&q).await.expect("write");
    let mut len = [0u8; 2];
    s.read_exact(&mut len).await.expect("length");
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut buf).await.expect("message");
    answer(&buf)
}
