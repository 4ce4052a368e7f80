//! The embedded authoritative DNS server (DESIGN.md §5), on UDP and TCP.
//!
//! For the zone: `A` with the group's IP for every published FQDN; NOERROR with no records
//! (and the SOA in authority) for other types of a known name; `NXDOMAIN` with the SOA for
//! unknown names; SOA and NS at the apex. `REFUSED` for names outside the zone. Answers come
//! from the in-memory [`Directory`], so changes show at once.
//!
//! TCP is served by hickory's server. UDP, where the load is, by loops of our own (one per
//! core) that answer each query in place and send it back from the same task: no task, channel
//! or wake-up per query.

use crate::directory::Directory;
use hickory_server::Server;
use hickory_server::net::runtime::{Time, TokioTime};
use hickory_server::net::xfer::Protocol;
use hickory_server::proto::op::{
    Header, HeaderCounts, MessageType, Metadata, OpCode, ResponseCode,
};
use hickory_server::proto::rr::rdata::{A, NS, SOA};
use hickory_server::proto::rr::{LowerName, Name, RData, Record, RecordType};
use hickory_server::proto::serialize::binary::{
    BinDecodable, BinDecoder, BinEncodable, BinEncoder,
};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

#[cfg(test)]
mod tests;

/// TTL of group records: short, since a group's name moves or vanishes with one API call.
const RECORD_TTL: u32 = 5;
/// TTL of the SOA and NS records, and the negative-caching TTL (SOA minimum).
const ZONE_TTL: u32 = 60;
/// A TCP client that sends no query for this long is disconnected.
const TCP_TIMEOUT: Duration = Duration::from_secs(10);

/// Answers sent, by response code (the header's four bits: `NOERROR` = 0 .. 15), counted
/// with a relaxed increment per answer.
#[derive(Debug, Default)]
pub struct DnsStats([AtomicU64; 16]);

impl DnsStats {
    fn count(&self, code: ResponseCode) {
        let i = usize::from(u16::from(code) & 0xf);
        self.0[i].fetch_add(1, Relaxed);
    }

    /// Each response code answered so far, by its name (`NOERROR`, `NXDOMAIN`, ...).
    pub fn answers(&self) -> Vec<(&'static str, u64)> {
        const NAMES: [&str; 16] = [
            "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN",
            "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE", "RCODE11", "RCODE12", "RCODE13", "RCODE14",
            "RCODE15",
        ];
        NAMES
            .iter()
            .zip(&self.0)
            .map(|(name, n)| (*name, n.load(Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}

#[derive(Clone)]
pub struct DnsHandler {
    /// Answers by response code, for the metrics.
    pub stats: Arc<DnsStats>,
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
            stats: Arc::default(),
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
        response: R,
    ) -> ResponseInfo {
        let info = self.answer(request, response).await;
        self.stats.count(info.response_code);
        info
    }
}

impl DnsHandler {
    async fn answer<R: ResponseHandler>(&self, request: &Request, mut response: R) -> ResponseInfo {
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
    ResponseInfo::from(error_header(req, ResponseCode::ServFail))
}

/// A response to `req` that is only a header with `code`.
fn error_header(req: &Metadata, code: ResponseCode) -> Header {
    let mut metadata = Metadata::response_from_request(req);
    metadata.response_code = code;
    Header {
        metadata,
        counts: HeaderCounts::default(),
    }
}

/// A response encoded for UDP, kept for the loop that received the query to send.
#[derive(Clone, Default)]
struct Encoded(Arc<std::sync::Mutex<Option<Vec<u8>>>>);

#[async_trait::async_trait]
impl ResponseHandler for Encoded {
    async fn send_response<'a>(
        &mut self,
        response: hickory_server::zone_handler::MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> Result<ResponseInfo, hickory_server::net::NetError> {
        let id = response.metadata().id;
        // RFC 1035 §4.2.1: 512 bytes over UDP unless the query's EDNS allows more.
        let max = response.edns().map_or(512, |e| e.max_payload());
        let mut bytes = Vec::with_capacity(512);
        let mut encoder = BinEncoder::new(&mut bytes);
        encoder.set_max_size(max);
        let info = match response.destructive_emit(&mut encoder) {
            Ok(info) => info,
            Err(_) => {
                bytes.clear();
                let header = error_header(
                    &Metadata::new(id, MessageType::Response, OpCode::Query),
                    ResponseCode::ServFail,
                );
                header.emit(&mut BinEncoder::new(&mut bytes))?;
                ResponseInfo::from(header)
            }
        };
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(bytes);
        Ok(info)
    }
}

impl DnsHandler {
    /// The answer to one UDP datagram, if it deserves one: a query gets its answer, a
    /// malformed one with a readable header `FORMERR`; responses and noise get nothing.
    async fn answer_udp(&self, datagram: &[u8], src: SocketAddr) -> Option<Vec<u8>> {
        let request = match Request::from_bytes(datagram.to_vec(), src, Protocol::Udp) {
            Ok(r) => r,
            Err(_) => {
                let header = Header::read(&mut BinDecoder::new(datagram)).ok()?;
                self.stats.count(ResponseCode::FormErr);
                let mut bytes = Vec::with_capacity(12);
                error_header(&header.metadata, ResponseCode::FormErr)
                    .emit(&mut BinEncoder::new(&mut bytes))
                    .ok()?;
                return Some(bytes);
            }
        };
        // Never answer an answer: that is how reflection loops start.
        if request.metadata.message_type == MessageType::Response {
            return None;
        }
        let out = Encoded::default();
        self.handle_request::<_, TokioTime>(&request, out.clone())
            .await;
        out.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// Answers the queries that reach `socket` until the task is aborted.
async fn serve_udp(socket: Arc<tokio::net::UdpSocket>, handler: DnsHandler) {
    let mut buf = vec![0u8; 4096];
    loop {
        let (n, src) = match socket.recv_from(&mut buf).await {
            Ok(got) => got,
            Err(e) => {
                // A UDP socket's errors pass (a datagram too large, an ICMP error of an
                // earlier answer); a short pause keeps one that does not from spinning a core.
                tracing::debug!(error = %e, "receiving a DNS query failed");
                tokio::time::sleep(Duration::from_millis(1)).await;
                continue;
            }
        };
        if src.port() == 0 || src.ip().is_unspecified() {
            continue;
        }
        if let Some(answer) = handler.answer_udp(&buf[..n], src).await
            && let Err(e) = socket.send_to(&answer, src).await
        {
            tracing::debug!(error = %e, "sending a DNS response failed");
        }
    }
}

/// The running DNS server: hickory's for TCP, our loops for UDP.
pub struct DnsServer {
    tcp: Server<DnsHandler>,
    udp: Vec<tokio::task::JoinHandle<()>>,
}

impl DnsServer {
    pub async fn shutdown_gracefully(&mut self) {
        for task in &self.udp {
            task.abort();
        }
        let _ = self.tcp.shutdown_gracefully().await;
    }
}

/// Binds UDP and TCP on `addr` (one port for both, also when `addr` asks for port 0) and
/// serves the zone. Returns the bound address and the running server.
pub async fn start(
    addr: SocketAddr,
    handler: DnsHandler,
) -> anyhow::Result<(SocketAddr, DnsServer)> {
    let mut last_err = None;
    for _ in 0..20 {
        let udp = tokio::net::UdpSocket::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {addr} (UDP) for DNS: {e}"))?;
        let bound = udp.local_addr()?;
        match tokio::net::TcpListener::bind(bound).await {
            Ok(tcp) => {
                let udp = Arc::new(udp);
                let loops = std::thread::available_parallelism().map_or(1, |n| n.get());
                let udp = (0..loops)
                    .map(|_| tokio::spawn(serve_udp(udp.clone(), handler.clone())))
                    .collect();
                let mut server = Server::new(handler);
                server.register_listener(tcp, TCP_TIMEOUT, 64);
                return Ok((bound, DnsServer { tcp: server, udp }));
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
