//! What the shim takes from the node into each container's process: the compiled-code
//! cache directory. The container's process runs inside the container's root (libcontainer
//! has pivoted into it before the component is loaded), where no node directory is visible;
//! so the shim opens the cache directory in its own process, before any container is made,
//! and every container process reaches it through that inherited descriptor
//! (`/proc/self/fd/<n>`). A native program (the pod's pause container) never sees it: the
//! descriptor is close-on-exec.

use std::os::fd::{IntoRawFd, RawFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, Ordering};

/// Where the node keeps compiled code, shared by every pod of the node.
pub const CACHE_DIR_ENV: &str = "WACI_SHIM_CACHE_DIR";
/// The default of [`CACHE_DIR_ENV`]: beside containerd's own state, kept across reboots.
pub const DEFAULT_CACHE_DIR: &str = "/var/lib/waci/cache";

/// The cache directory's descriptor in this process and (inherited) in its containers.
static CACHE_FD: AtomicI32 = AtomicI32::new(-1);

/// Opens the node's cache directory, making it if needed. Called once at the shim's start;
/// a cache that cannot be opened only costs compilations, so it is logged, not fatal.
pub fn open_cache() {
    let dir = std::env::var_os(CACHE_DIR_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CACHE_DIR));
    let opened = std::fs::create_dir_all(&dir).and_then(|()| {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(&dir)
    });
    match opened {
        Ok(file) => CACHE_FD.store(file.into_raw_fd(), Ordering::Relaxed),
        Err(e) => eprintln!(
            "waci: the compiled-code cache {} cannot be opened: {e}",
            dir.display()
        ),
    }
}

/// The node's cache directory as this (container) process can reach it, if it may write
/// there: a container running as another user than the shim's (`runAsUser`) gets `None` and
/// compiles into a directory of its own, since a cache others can write into would let one
/// pod hand compiled code to another.
pub fn cache_dir() -> Option<PathBuf> {
    let fd: RawFd = CACHE_FD.load(Ordering::Relaxed);
    let path = PathBuf::from(format!("/proc/self/fd/{fd}"));
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).ok()?;
    // SAFETY: `access` reads a NUL-terminated path that lives through the call.
    let writable = unsafe { libc::access(c_path.as_ptr(), libc::W_OK | libc::X_OK) } == 0;
    (fd >= 0 && path.is_dir() && writable).then_some(path)
}
