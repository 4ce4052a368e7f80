//! The embedded authoritative DNS server (DESIGN.md §5), on UDP and TCP.
//!
//! For the zone: `A` with the group's IP for every published FQDN; NOERROR with no records
//! (and the SOA in authority) for other types of a known name; `NXDOMAIN` with the SOA for
//! unknown names; SOA and NS at the apex. `REFUSED` for names outside the zone. Answers come
//! from the in-memory [`Directory`], so changes show at once.

use crate::directory::Directory;
use hickory_server::Server;
use hickory_server::net::runtime::Time;
use hickory_server::proto::op::{
    Header, HeaderCounts, MessageType, Metadata, OpCode, ResponseCode,
};
use hickory_server::proto::rr::rdata::{A, NS, SOA};
use hickory_server::proto::rr::{LowerName, Name, RData, Record, RecordType};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// TTL of group records: short, since a group's name moves or vanishes with one API call.
const RECORD_TTL: u32 = 5;
/// TTL of the SOA and NS records, and the negative-caching TTL (SOA minimum).
const ZONE_TTL: u32 = 60;
/// A TCP client that sends no query for this long is disconnected.
const TCP_TIMEOUT: Duration = Duration::from_secs(10);

pub struct DnsHandler {
    zone: LowerName,
    directory: Arc<Directory>,
    soa: Record,
    ns: Record,
    /// `ns.<zone>` → the address the server listens on, as glue for the NS answer.
    ns_a: Option<Record>,
    ns_name: LowerName,
}

impl DnsHandler {
    pub fn new(
        zone: &str,
        directory: Arc<Directory>,
        listen: IpAddr,
    ) -> anyhow::Result<DnsHandler> {
        let origin = Name::from_ascii(format!("{}.", zone.trim_end_matches('.')))?;
        let ns_name = Name::from_ascii("ns")?.append_domain(&origin)?;
        let hostmaster = Name::from_ascii("hostmaster")?.append_domain(&origin)?;
        let soa = Record::from_rdata(
            origin.clone(),
            ZONE_TTL,
            RData::SOA(SOA::new(
                ns_name.clone(),
                hostmaster,
                1,
                3600,
                600,
                86400,
                ZONE_TTL,
            )),
        );
        let ns = Record::from_rdata(origin.clone(), ZONE_TTL, RData::NS(NS(ns_name.clone())));
        let ns_a = match listen {
            IpAddr::V4(v4) => Some(Record::from_rdata(
                ns_name.clone(),
                ZONE_TTL,
                RData::A(A(v4)),
            )),
            IpAddr::V6(_) => None,
        };
        Ok(DnsHandler {
            zone: LowerName::from(&origin),
            directory,
            soa,
            ns,
            ns_a,
            ns_name: LowerName::from(&ns_name),
        })
    }
}

#[async_trait::async_trait]
impl RequestHandler for DnsHandler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response: R,
    ) -> ResponseInfo {
        let builder = MessageResponseBuilder::from_message_request(request);
        let mut meta = Metadata::response_from_request(&request.metadata);
        let query = match request.request_info() {
            Ok(info)
                if request.metadata.op_code == OpCode::Query
                    && request.metadata.message_type == MessageType::Query =>
            {
                info.query
            }
            Ok(_) => {
                return send(
                    response,
                    builder.error_msg(&request.metadata, ResponseCode::NotImp),
                )
                .await;
            }
            Err(_) => {
                return send(
                    response,
                    builder.error_msg(&request.metadata, ResponseCode::FormErr),
                )
                .await;
            }
        };
        let name = query.name();
        if !self.zone.zone_of(name) {
            return send(
                response,
                builder.error_msg(&request.metadata, ResponseCode::Refused),
            )
            .await;
        }
        meta.authoritative = true;
        let qtype = query.query_type();
        let mut answers: Vec<Record> = Vec::new();
        let mut additionals: Vec<Record> = Vec::new();
        let mut negative = false;
        if *name == self.zone {
            match qtype {
                RecordType::SOA => answers.push(self.soa.clone()),
                RecordType::NS => {
                    answers.push(self.ns.clone());
                    additionals.extend(self.ns_a.clone());
                }
                _ => negative = true,
            }
        } else if *name == self.ns_name {
            match (qtype, &self.ns_a) {
                (RecordType::A, Some(a)) => answers.push(a.clone()),
                _ => negative = true,
            }
        } else if let Some(entry) = self.directory.lookup(&name.to_string()) {
            match qtype {
                RecordType::A | RecordType::ANY => answers.push(Record::from_rdata(
                    Name::from(name.clone()),
                    RECORD_TTL,
                    RData::A(A(entry.ip)),
                )),
                _ => negative = true,
            }
        } else {
            meta.response_code = ResponseCode::NXDomain;
            negative = true;
        }
        let soa: Vec<&Record> = if negative { vec![&self.soa] } else { vec![] };
        let msg = builder.build(
            meta,
            answers.iter(),
            std::iter::empty(),
            soa,
            additionals.iter(),
        );
        match response.send_response(msg).await {
            Ok(info) => info,
            Err(e) => {
                tracing::debug!(error = %e, "sending a DNS response failed");
                failed(&request.metadata)
            }
        }
    }
}

async fn send<'a, R: ResponseHandler>(
    mut response: R,
    msg: hickory_server::zone_handler::MessageResponse<
        '_,
        'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
    >,
) -> ResponseInfo {
    let id = msg.metadata().id;
    match response.send_response(msg).await {
        Ok(info) => info,
        Err(_) => failed(&Metadata::new(id, MessageType::Response, OpCode::Query)),
    }
}

fn failed(req: &Metadata) -> ResponseInfo {
    let mut metadata = Metadata::response_from_request(req);
    metadata.response_code = ResponseCode::ServFail;
    ResponseInfo::from(Header {
        metadata,
        counts: HeaderCounts::default(),
    })
}

/// Binds UDP and TCP on `addr` (one port for both, also when `addr` asks for port 0) and
/// serves the zone. Returns the bound address and the running server.
pub async fn start(
    addr: SocketAddr,
    handler: DnsHandler,
) -> anyhow::Result<(SocketAddr, Server<DnsHandler>)> {
    let mut last_err = None;
    for _ in 0..20 {
        let udp = tokio::net::UdpSocket::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {addr} (UDP) for DNS: {e}"))?;
        let bound = udp.local_addr()?;
        match tokio::net::TcpListener::bind(bound).await {
            Ok(tcp) => {
                let mut server = Server::new(handler);
                server.register_socket(udp);
                server.register_listener(tcp, TCP_TIMEOUT, 64);
                return Ok((bound, server));
            }
            // Port 0 gave a UDP port whose TCP twin is taken: try another.
            Err(e) if addr.port() == 0 => last_err = Some(e),
            Err(e) => anyhow::bail!("cannot listen on {bound} (TCP) for DNS: {e}"),
        }
    }
    anyhow::bail!(
        "cannot find a port free for both UDP and TCP DNS: {:?}",
        last_err
    )
}
