//! Paths as the toolbox sees them: a working directory of its own (WASI has none), paths
//! made absolute and normal against it, and the directories above the mounts, which exist
//! only as the way to them (`ls /` lists the mount points).

/// Every mount the sandbox gave us (its guest path), from WASI's preopens.
pub fn mounts() -> Vec<String> {
    let mut m: Vec<String> = wasip2::filesystem::preopens::get_directories()
        .into_iter()
        .map(|(_, path)| normal("/", &path))
        .collect();
    m.sort();
    m
}

/// `path` made absolute against `cwd`, with `.`, `..` and repeated slashes resolved (`..`
/// stops at `/`).
pub fn normal(cwd: &str, path: &str) -> String {
    let joined = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{cwd}/{path}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for p in joined.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Whether `abs` lies in a mount (the mount itself included).
pub fn in_mount(abs: &str, mounts: &[String]) -> bool {
    mounts
        .iter()
        .any(|m| m == "/" || abs == m || abs.starts_with(&format!("{m}/")))
}

/// The names under `abs` that lead to mounts, when `abs` is a directory above them (not in
/// one): `/` holds `data` for a mount at `/data/logs`. `None` when nothing is mounted below.
pub fn above_mounts(abs: &str, mounts: &[String]) -> Option<Vec<String>> {
    if in_mount(abs, mounts) {
        return None;
    }
    let prefix = if abs == "/" {
        "/".to_string()
    } else {
        format!("{abs}/")
    };
    let mut names: Vec<String> = mounts
        .iter()
        .filter_map(|m| m.strip_prefix(&prefix))
        .filter_map(|rest| rest.split('/').next())
        .map(str::to_string)
        .collect();
    names.sort();
    names.dedup();
    (!names.is_empty() || abs == "/").then_some(names)
}
