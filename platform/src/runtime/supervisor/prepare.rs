//! The first phase of a supervisor: the group's volumes on the host (`emptyDir` kept,
//! secrets written anew), made before any image is fetched. A group whose volumes cannot be
//! made fails with a `Failed` event and starts nothing.

use super::group::GroupCtx;
use crate::runtime::volumes;
use crate::store::GroupRow;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

/// Every volume of the group, name → host directory; `None` when the supervisor is done (the
/// group failed, or its task was stopped).
pub(super) async fn volumes(
    ctx: &Arc<GroupCtx>,
    group: &GroupRow,
) -> Option<HashMap<String, PathBuf>> {
    if group.spec.volumes.is_empty() {
        return Some(HashMap::new());
    }
    let (root, id, vols) = (
        ctx.rt.config.volumes_dir.clone(),
        ctx.id,
        group.spec.volumes.clone(),
    );
    match tokio::task::spawn_blocking(move || volumes::prepare(&root, id, &vols)).await {
        Ok(Ok(dirs)) => Some(dirs),
        Ok(Err(e)) => {
            ctx.event(
                None,
                "Failed",
                format!("Preparing the group's volumes failed: {e}"),
                true,
            )
            .await;
            ctx.fail().await;
            None
        }
        Err(_) => None,
    }
}
