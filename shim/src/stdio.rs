//! Guest output into the container's stdout and stderr, which containerd's CRI plugin reads
//! from its fifos and writes to the CRI log file (`<time> stdout F <line>`), as kubelet
//! expects. The shim adds nothing to the guest's bytes; the CRI plugin splits and stamps
//! the lines.

use std::future::Future;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use waci_platform::runtime::core::{LogSink, Stream, StreamSink};

/// The container process's own stdout (fd 1) and stderr (fd 2).
pub struct Stdio;

struct Fd(RawFd);

impl StreamSink for Fd {
    fn write(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            // SAFETY: writes from a live slice to a descriptor this process keeps open for
            // its whole life (the fifos containerd gave the container).
            let n = unsafe { libc::write(self.0, bytes.as_ptr().cast(), bytes.len()) };
            match usize::try_from(n) {
                Ok(n) => bytes = &bytes[n..],
                Err(_)
                    if std::io::Error::last_os_error().kind()
                        == std::io::ErrorKind::Interrupted => {}
                // Nobody reads any more (the pod is going away): the output has nowhere to go.
                Err(_) => return,
            }
        }
    }
}

impl LogSink for Stdio {
    fn open(
        &self,
        _group_id: i64,
        _container: &Arc<str>,
        stream: Stream,
    ) -> Arc<Mutex<dyn StreamSink>> {
        let fd = match stream {
            Stream::Stdout => libc::STDOUT_FILENO,
            Stream::Stderr => libc::STDERR_FILENO,
        };
        Arc::new(Mutex::new(Fd(fd)))
    }

    /// A fifo write only waits while containerd's pipe buffer is full, which it drains
    /// continuously: there is no queue of ours to fill.
    fn has_room(&self) -> bool {
        true
    }

    fn wait_for_room(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(std::future::ready(()))
    }
}
