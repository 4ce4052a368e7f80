//! A group's volumes on the host (DESIGN.md §4, issue: lifecycle): `emptyDir` is a directory
//! made fresh for the group and shared by its containers; `secret` is a directory of files
//! decoded from the definition, mounted read-only. Both live under
//! `<data dir>/volumes/<group id>/` and are removed when the group is deleted.
//! A container sees a volume only at the mount paths its definition names.

use super::host::Mount;
use crate::model::{Container, Volume, VolumeSource};
use base64::Engine as _;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub fn group_dir(root: &Path, group_id: i64) -> PathBuf {
    root.join(group_id.to_string())
}

/// Creates (or refreshes) every volume of a group and returns name → host directory.
/// An `emptyDir` keeps its contents for the group's life (across container restarts and
/// platform restarts); secret files are written anew from the current definition.
/// Blocking: call from a blocking thread.
pub fn prepare(
    root: &Path,
    group_id: i64,
    volumes: &[Volume],
) -> std::io::Result<HashMap<String, PathBuf>> {
    use std::os::unix::fs::PermissionsExt;
    let dir = group_dir(root, group_id);
    let mut out = HashMap::new();
    for v in volumes {
        let path = dir.join(&v.name);
        match &v.source {
            VolumeSource::EmptyDir => std::fs::create_dir_all(&path)?,
            VolumeSource::Secret(files) => {
                if path.exists() {
                    std::fs::remove_dir_all(&path)?;
                }
                std::fs::create_dir_all(&path)?;
                for (name, b64) in files {
                    // Validated at the API boundary; a file that no longer decodes is empty.
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(b64)
                        .unwrap_or_default();
                    let file = path.join(name);
                    std::fs::write(&file, bytes)?;
                    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o400))?;
                }
            }
        }
        out.insert(v.name.clone(), path);
    }
    Ok(out)
}

/// The mounts of one container: its `volumeMounts`, secret volumes always read-only.
pub fn mounts(c: &Container, dirs: &HashMap<String, PathBuf>, volumes: &[Volume]) -> Vec<Mount> {
    c.volume_mounts
        .iter()
        .filter_map(|m| {
            let host_path = dirs.get(&m.name)?.clone();
            let secret = volumes
                .iter()
                .any(|v| v.name == m.name && matches!(v.source, VolumeSource::Secret(_)));
            Some(Mount {
                host_path,
                guest_path: m.mount_path.clone(),
                read_only: m.read_only || secret,
            })
        })
        .collect()
}
