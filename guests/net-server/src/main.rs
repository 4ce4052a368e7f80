//! `net-server`: a command that serves on a port of its group with the standard library's
//! sockets, as an ordinary server would, and prints what it does.
//!
//! - `net-server resp <port>`: listens on `0.0.0.0:<port>` and answers a small subset of
//!   RESP (Redis's protocol): `PING`, `SET key value`, `GET key`, `QUIT`, both as arrays of
//!   bulk strings (what `redis-cli` sends) and inline. One connection at a time, each served
//!   until the client closes it.
//! - `net-server udp-echo <port>`: binds `0.0.0.0:<port>` and sends every datagram back.
//!
//! It prints `listening on <addr>` once bound, and exits 1 with the error if it cannot bind.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["resp", port] => resp(port),
        ["udp-echo", port] => udp_echo(port),
        _ => Err(format!("unknown arguments {args:?}")),
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn resp(port: &str) -> Result<(), String> {
    let addr = format!("0.0.0.0:{port}");
    let listener = TcpListener::bind(&addr).map_err(|e| format!("bind {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    println!("listening on {local} (TCP)");
    let mut data = HashMap::new();
    for conn in listener.incoming() {
        match conn {
            Ok(stream) => {
                if let Err(e) = serve(stream, &mut data) {
                    println!("connection ended: {e}");
                }
            }
            Err(e) => println!("accept failed: {e}"),
        }
    }
    Ok(())
}

/// Reads one command: a RESP array of bulk strings, or an inline line.
fn read_command(r: &mut impl BufRead) -> std::io::Result<Option<Vec<String>>> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let line = line.trim_end();
    let Some(count) = line.strip_prefix('*') else {
        return Ok(Some(line.split_whitespace().map(str::to_string).collect()));
    };
    let count: usize = count.parse().unwrap_or(0);
    let mut parts = Vec::with_capacity(count);
    for _ in 0..count {
        let mut head = String::new();
        r.read_line(&mut head)?;
        let n: usize = head.trim_end().trim_start_matches('$').parse().unwrap_or(0);
        let mut buf = vec![0; n + 2];
        r.read_exact(&mut buf)?;
        buf.truncate(n);
        parts.push(String::from_utf8_lossy(&buf).into_owned());
    }
    Ok(Some(parts))
}

fn serve(stream: TcpStream, data: &mut HashMap<String, String>) -> std::io::Result<()> {
    let peer = stream.peer_addr()?;
    println!("connection from {peer}");
    // `try_clone` is not there on wasip2: read and write through shared references.
    let mut out = &stream;
    let mut reader = BufReader::new(&stream);
    while let Some(parts) = read_command(&mut reader)? {
        let upper: Vec<String> = parts
            .iter()
            .take(1)
            .map(|p| p.to_ascii_uppercase())
            .collect();
        let answer = match (upper.first().map(String::as_str), &parts[..]) {
            (Some("PING"), [_]) => "+PONG\r\n".to_string(),
            (Some("PING"), [_, msg]) => format!("${}\r\n{msg}\r\n", msg.len()),
            (Some("SET"), [_, k, v]) => {
                println!("SET {k}");
                data.insert(k.clone(), v.clone());
                "+OK\r\n".to_string()
            }
            (Some("GET"), [_, k]) => match data.get(k) {
                Some(v) => format!("${}\r\n{v}\r\n", v.len()),
                None => "$-1\r\n".to_string(),
            },
            (Some("QUIT"), _) => {
                out.write_all(b"+OK\r\n")?;
                return Ok(());
            }
            // redis-cli asks for the server's commands when it starts; an empty list will do.
            (Some("COMMAND"), _) => "*0\r\n".to_string(),
            (None, _) => continue,
            (Some(c), _) => format!("-ERR unknown command '{c}'\r\n"),
        };
        out.write_all(answer.as_bytes())?;
    }
    Ok(())
}

fn udp_echo(port: &str) -> Result<(), String> {
    let addr = format!("0.0.0.0:{port}");
    let socket = UdpSocket::bind(&addr).map_err(|e| format!("bind {addr}: {e}"))?;
    let local = socket.local_addr().map_err(|e| e.to_string())?;
    println!("listening on {local} (UDP)");
    let mut buf = [0; 65536];
    loop {
        let (n, from) = socket
            .recv_from(&mut buf)
            .map_err(|e| format!("receive: {e}"))?;
        println!("{n} bytes from {from}");
        socket
            .send_to(&buf[..n], from)
            .map_err(|e| format!("send to {from}: {e}"))?;
    }
}
