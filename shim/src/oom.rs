//! OOMKilled as Kubernetes sees it. containerd's CRI plugin marks a container `OOMKilled`
//! only when its shim publishes a `/tasks/oom` event for it (runc's shim does so when the
//! kernel kills in the container's cgroup). Here a guest over its memory cap ends inside the
//! container's process, which cannot reach containerd from inside its root; so the shim keeps
//! one end of a datagram socket pair in its own process and every container process
//! inherits the other. A container whose guest ran out of memory sends one datagram; the
//! kernel stamps it with the sender's PID as the shim sees it (`SO_PASSCRED`), the shim finds
//! the container of that PID in libcontainer's state and publishes the event for it.

use containerd_shim::Context;
use containerd_shim::protos::events::task::TaskOOM;
use containerd_shim::publisher::RemotePublisher;
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};

/// The end container processes write to (inherited; close-on-exec, so a native program
/// such as the pause container never holds it).
static REPORT_FD: AtomicI32 = AtomicI32::new(-1);

/// Where libcontainer keeps each container's `state.json` for this shim, by namespace:
/// containerd-shim-wasm's default root for a runtime named `waci`.
const STATE_ROOT: &str = "/run/containerd/waci";

/// The topic of containerd's OOM event, which the CRI plugin turns into `OOMKilled`.
const OOM_TOPIC: &str = "/tasks/oom";

/// Makes the socket pair and, in the shim's own process, the thread that publishes what
/// arrives. Called once at the shim's start, before any container process exists.
pub fn listen() {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` has room for the two descriptors socketpair writes.
    let made = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if made != 0 {
        return;
    }
    let on: libc::c_int = 1;
    // SAFETY: sets an int option on a socket we own, from a live int.
    unsafe {
        libc::setsockopt(
            fds[0],
            libc::SOL_SOCKET,
            libc::SO_PASSCRED,
            (&raw const on).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
    REPORT_FD.store(fds[1], Ordering::Relaxed);
    let flags = containerd_shim::parse(&std::env::args_os().skip(1).collect::<Vec<_>>()).ok();
    let namespace = flags.map(|f| f.namespace).unwrap_or_default();
    let receiver = fds[0];
    let _ = std::thread::Builder::new()
        .name("waci-oom".into())
        .spawn(move || publish_each(receiver, &namespace));
}

/// In a container process: tells the shim that this container ran out of memory.
pub fn report() {
    let fd = REPORT_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        // SAFETY: sends three bytes from a static slice on a descriptor this process holds.
        unsafe { libc::send(fd, b"oom".as_ptr().cast(), 3, 0) };
    }
}

/// Publishes `/tasks/oom` for the container of each datagram's sender, for the shim's life.
fn publish_each(fd: RawFd, namespace: &str) {
    let root = Path::new(STATE_ROOT).join(namespace);
    while let Some(pid) = sender_pid(fd) {
        let Some(id) = container_of(&root, pid) else {
            log::warn!(
                "an out-of-memory report from pid {pid}, which is no container of this shim"
            );
            continue;
        };
        let published = std::env::var("TTRPC_ADDRESS")
            .map_err(|e| e.to_string())
            .and_then(|addr| RemotePublisher::new(addr).map_err(|e| e.to_string()))
            .and_then(|p| {
                let mut event = TaskOOM::new();
                event.container_id = id.clone();
                p.publish(Context::default(), OOM_TOPIC, namespace, Box::new(event))
                    .map_err(|e| e.to_string())
            });
        match published {
            Ok(()) => log::info!("container {id} ran out of memory"),
            Err(e) => log::warn!("publishing {OOM_TOPIC} for {id} failed: {e}"),
        }
    }
}

/// Waits for the next datagram and gives its sender's PID; `None` once the socket fails.
fn sender_pid(fd: RawFd) -> Option<i32> {
    loop {
        let mut data = [0u8; 16];
        let mut iov = libc::iovec {
            iov_base: data.as_mut_ptr().cast(),
            iov_len: data.len(),
        };
        // Room for one SCM_CREDENTIALS message, aligned as cmsg headers need.
        let mut control = [0u64; 16];
        // SAFETY: msghdr is plain data; zeroed is a valid empty header, filled in below.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &raw mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control);
        // SAFETY: every pointer in `msg` points at live buffers of the stated sizes.
        let n = unsafe { libc::recvmsg(fd, &raw mut msg, 0) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return None;
        }
        // SAFETY: walks the control messages recvmsg wrote into `control`.
        let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(&raw const msg) };
        while !cmsg.is_null() {
            // SAFETY: `cmsg` points at a header inside `control`; SCM_CREDENTIALS data is a
            // `ucred`, read unaligned as it may sit at any offset.
            unsafe {
                if (*cmsg).cmsg_level == libc::SOL_SOCKET
                    && (*cmsg).cmsg_type == libc::SCM_CREDENTIALS
                {
                    let cred =
                        std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::ucred>());
                    return Some(cred.pid);
                }
                cmsg = libc::CMSG_NXTHDR(&raw const msg, cmsg);
            }
        }
    }
}

/// The id of the container whose init process is `pid`, from libcontainer's `state.json`
/// files under `root` (one directory per container).
fn container_of(root: &Path, pid: i32) -> Option<String> {
    let dirs = std::fs::read_dir(root).ok()?;
    dirs.flatten().map(|d| d.path()).find_map(|dir: PathBuf| {
        let state: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("state.json")).ok()?).ok()?;
        (state.get("pid")?.as_i64()? == i64::from(pid))
            .then(|| state.get("id")?.as_str().map(str::to_string))
            .flatten()
    })
}
