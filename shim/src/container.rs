//! What a container's process learns about itself from inside its root: the volumes the OCI
//! spec mounted (from `/proc/self/mountinfo`) and its memory limit (from its cgroup). The
//! spec itself is not visible here, but each of its mounts and its limit are.

use std::path::{Path, PathBuf};
use waci_platform::runtime::core::host::Mount;

/// File systems that are the container's plumbing, not its volumes.
const SYSTEM_FS: &[&str] = &["proc", "sysfs", "devpts", "mqueue", "cgroup", "cgroup2"];
/// Mount points under these belong to the kernel's or the runtime's view, not the workload's.
const SYSTEM_DIRS: &[&str] = &["/proc", "/sys", "/dev"];
/// A cgroup memory limit at or above this means none (cgroup v1 writes 2^63 rounded down
/// to a page for "max").
const NO_LIMIT: u64 = 1 << 60;

/// The directories the OCI spec mounted into the container (its Kubernetes volumes, the
/// service account token, ...), each as a preopened directory at the same path; file
/// mounts (`/etc/hosts`, `/etc/resolv.conf`, the termination log) and the system's mounts
/// are not directories a guest opens, and the container's root is not given at all.
pub fn volumes() -> Vec<Mount> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    parse_mountinfo(&text)
        .into_iter()
        .filter(|m| Path::new(&m.guest_path).is_dir())
        .collect()
}

/// The volume candidates of a `mountinfo` text, in its order, later mounts on the same
/// point replacing earlier ones.
fn parse_mountinfo(text: &str) -> Vec<Mount> {
    let mut mounts: Vec<Mount> = Vec::new();
    for line in text.lines() {
        // id parent major:minor root mount-point options [optional...] - fstype source super
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let fields: Vec<&str> = left.split(' ').collect();
        let (Some(point), Some(options)) = (fields.get(4), fields.get(5)) else {
            continue;
        };
        let fstype = right.split(' ').next().unwrap_or("");
        let point = unescape(point);
        if point == "/"
            || SYSTEM_FS.contains(&fstype)
            || SYSTEM_DIRS
                .iter()
                .any(|d| point == *d || point.starts_with(&format!("{d}/")))
        {
            continue;
        }
        let read_only = options.split(',').any(|o| o == "ro");
        mounts.retain(|m| m.guest_path != point);
        mounts.push(Mount {
            host_path: PathBuf::from(&point),
            guest_path: point,
            read_only,
        });
    }
    mounts
}

/// `mountinfo` writes space, tab, newline and backslash as octal escapes.
fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let n = bytes[i + 1..i + 4]
                .iter()
                .fold(0u32, |n, b| n * 8 + u32::from(b - b'0'));
            out.push(u8::try_from(n).unwrap_or(b'?'));
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The container's memory limit in bytes, if its cgroup has one: cgroup v2 (with or without
/// a cgroup namespace), else v1's memory controller, which the runtime mounts at
/// `/sys/fs/cgroup/memory` for the container.
pub fn memory_limit() -> Option<u64> {
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    // `0::/path` for v2; `N:memory:/path` (or `N:...,memory,...:/path`) for v1.
    let path_of = |v2: bool| {
        own.lines().find_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, controllers, path) = (f.next()?, f.next()?, f.next()?);
            let wanted = if v2 {
                controllers.is_empty()
            } else {
                controllers.split(',').any(|c| c == "memory")
            };
            wanted.then(|| path.trim_start_matches('/').to_string())
        })
    };
    let root = Path::new("/sys/fs/cgroup");
    let candidates = [
        Some(root.join("memory.max")),
        path_of(true).map(|p| root.join(p).join("memory.max")),
        Some(root.join("memory/memory.limit_in_bytes")),
        path_of(false).map(|p| root.join("memory").join(p).join("memory.limit_in_bytes")),
    ];
    candidates.into_iter().flatten().find_map(|f| {
        let v = std::fs::read_to_string(f)
            .ok()?
            .trim()
            .parse::<u64>()
            .ok()?;
        (v < NO_LIMIT).then_some(v)
    })
}

/// Resident memory of this process now, from `/proc/self/statm` (pages).
pub fn resident_bytes() -> u64 {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split(' ').nth(1).and_then(|p| p.parse::<u64>().ok()))
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * u64::try_from(page).unwrap_or(4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(mountinfo: &str, expected: &[(&str, bool)]) {
        let got: Vec<(String, bool)> = parse_mountinfo(mountinfo)
            .into_iter()
            .map(|m| (m.guest_path, m.read_only))
            .collect();
        let expected: Vec<(String, bool)> = expected
            .iter()
            .map(|(p, ro)| (p.to_string(), *ro))
            .collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn volumes_are_the_specs_mounts_but_the_systems() {
        let text = "\
870 790 0:62 / / rw,relatime - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w
871 870 0:65 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
872 870 0:66 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755
873 872 0:67 / /dev/pts rw,nosuid,noexec,relatime - devpts devpts rw,gid=5,mode=620
874 872 0:61 / /dev/mqueue rw,nosuid,nodev,noexec,relatime - mqueue mqueue rw
875 870 0:68 / /sys ro,nosuid,nodev,noexec,relatime - sysfs sysfs ro
876 875 0:28 /x /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory
877 870 254:0 /var/lib/kubelet/pods/p/volumes/data /data rw,relatime - ext4 /dev/vda rw
878 870 254:0 /var/lib/kubelet/pods/p/etc-hosts /etc/hosts rw,relatime - ext4 /dev/vda rw
879 870 0:70 / /var/run/secrets/kubernetes.io/serviceaccount ro,relatime - tmpfs tmpfs rw,size=1024k
880 870 254:0 /my\\040dir /my\\040dir rw,relatime - ext4 /dev/vda rw
881 872 0:60 / /dev/shm rw,nosuid,nodev,noexec,relatime - tmpfs shm rw,size=65536k
";
        check(
            text,
            &[
                ("/data", false),
                ("/etc/hosts", false),
                ("/var/run/secrets/kubernetes.io/serviceaccount", true),
                ("/my dir", false),
            ],
        );
    }

    #[test]
    fn a_later_mount_on_the_same_point_wins() {
        let text = "\
1 0 0:1 / / rw - overlay overlay rw
2 1 0:2 / /data rw - ext4 a rw
3 1 0:3 / /data ro - tmpfs b rw
";
        check(text, &[("/data", true)]);
    }
}
