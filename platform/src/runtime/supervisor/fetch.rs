//! The second phase of a supervisor: every container's image, fetched (built in, from a
//! file, or from a registry, a tag pinned to the digest it resolved to once per generation)
//! and loaded into the engine, before anything runs: a group whose image fails starts
//! nothing. A registry image that cannot be pulled is retried under the restart policy, the
//! container Waiting.

use super::group::GroupCtx;
use super::{BACKOFF_FIRST, ms};
use crate::images;
use crate::model::{Container, ContainerState, RestartPolicy};
use crate::registry;
use crate::runtime::Runtime;
use crate::runtime::core::engine::Loaded;
use crate::store::GroupRow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;

/// The loaded image of every init container, then of every container, in the definition's
/// order; `None` when the supervisor is done (the group failed, or was stopped).
pub(super) async fn images(ctx: &Arc<GroupCtx>, group: &GroupRow) -> Option<Vec<Arc<Loaded>>> {
    let pinned = pinned_digests(ctx, group).await;
    let mut loaded = Vec::new();
    for c in group
        .spec
        .init_containers
        .iter()
        .chain(&group.spec.containers)
    {
        let credentials = credentials_for(&group.spec.registry_credentials, &c.image);
        let pinned = pinned.get(&c.name).cloned();
        let l = image(ctx, c, pinned, credentials.as_ref())
            .instrument(ctx.span(&c.name))
            .await?;
        loaded.push(l);
    }
    Some(loaded)
}

/// The digests that registry tags were pinned to when this generation first pulled them,
/// by container, so that a restart runs the same bits.
async fn pinned_digests(ctx: &Arc<GroupCtx>, group: &GroupRow) -> HashMap<String, String> {
    let from_registry = group
        .spec
        .init_containers
        .iter()
        .chain(&group.spec.containers)
        .any(|c| images::is_registry_reference(&c.image));
    if !from_registry {
        return HashMap::new();
    }
    let id = ctx.id;
    match ctx.rt.store.run(move |s| s.containers(id)).await {
        Ok(rows) => rows
            .into_iter()
            .filter_map(|r| Some((r.name, r.image_digest?)))
            .collect(),
        Err(e) => {
            tracing::error!(group = id, error = %e, "reading pinned images failed");
            HashMap::new()
        }
    }
}

/// One container's loaded image, a failed pull retried under the restart policy with a
/// capped back-off.
async fn image(
    ctx: &Arc<GroupCtx>,
    c: &Container,
    pinned: Option<String>,
    credentials: Option<&registry::Credentials>,
) -> Option<Arc<Loaded>> {
    let mut backoff = BACKOFF_FIRST;
    loop {
        // Boxed: the pull futures are large, and the supervisor task lives as long as the
        // group; its own allocation should not keep room for them.
        match Box::pin(load(ctx, c, pinned.clone(), credentials)).await {
            Prepared::Ready(l) => return Some(l),
            Prepared::PullFailed if ctx.policy != RestartPolicy::Never => {
                let message = format!("Back-off {} pulling image \"{}\"", ms(backoff), c.image);
                let waiting = ContainerState::waiting("ImagePullBackOff");
                if !ctx
                    .back_off(&c.name, message, Some(waiting), &mut backoff)
                    .await
                {
                    return None;
                }
            }
            Prepared::PullFailed | Prepared::Failed => {
                ctx.fail().await;
                return None;
            }
        }
    }
}

/// The credentials of `imageRegistryCredentials` whose server is the image's registry.
fn credentials_for(
    all: &[crate::model::RegistryCredential],
    image: &str,
) -> Option<registry::Credentials> {
    if all.is_empty() {
        return None;
    }
    let server = registry::parse(image).ok()?.resolve_registry().to_string();
    let normal = |s: &str| {
        let s = s.trim().trim_end_matches('/').to_ascii_lowercase();
        let s = s
            .strip_prefix("https://")
            .or_else(|| s.strip_prefix("http://"))
            .map(str::to_string)
            .unwrap_or(s);
        if s == "docker.io" {
            "index.docker.io".to_string()
        } else {
            s
        }
    };
    all.iter()
        .find(|c| normal(&c.server) == normal(&server))
        .map(|c| registry::Credentials {
            username: c.username.clone().unwrap_or_default(),
            password: c.password.clone().unwrap_or_default(),
        })
}

/// The `Pulling` and `Pulled` events of an image read from the binary or a file.
fn pulled_events(
    ctx: &Arc<GroupCtx>,
    c: &Container,
    source: &str,
    len: u64,
    digest: &str,
    start: Instant,
) {
    let pulled = format!(
        "Successfully pulled image \"{}\" ({source}, {len} bytes, {digest}) in {}",
        c.image,
        ms(start.elapsed())
    );
    let pulling = format!("pulling image \"{}\"", c.image);
    ctx.defer_event(&c.name, "Pulling", pulling);
    ctx.defer_event(&c.name, "Pulled", pulled);
}

/// A built-in or file image: its digest, its bytes, and for the `Pulled` event where it
/// came from and its size.
struct Local {
    digest: String,
    /// Empty for a file whose compiled code is loaded: its digest is all the load needs.
    bytes: Arc<[u8]>,
    source: String,
    len: u64,
}

/// A built-in or file image, read. A file whose compiled code is loaded and which has not
/// changed since it was read is not read again.
async fn local(rt: &Runtime, reference: &str) -> Result<Local, registry::Error> {
    if let Some(known) = images::known_file(reference).filter(|k| rt.engines.is_loaded(&k.digest)) {
        return Ok(Local {
            digest: known.digest,
            bytes: Arc::from([]),
            source: known.source,
            len: known.len,
        });
    }
    let image = if images::is_built_in(reference) {
        // In the binary, its digest computed once: no I/O, no blocking thread.
        images::resolve(reference)
    } else {
        let reference = reference.to_string();
        tokio::task::spawn_blocking(move || images::resolve(&reference))
            .await
            .map_err(|e| registry::Error::Disk(e.to_string()))?
    }
    .map_err(|e| registry::Error::Local(e.to_string()))?;
    Ok(Local {
        len: image.bytes.len() as u64,
        digest: image.digest,
        bytes: image.bytes,
        source: image.source,
    })
}

/// What became of loading a container's image.
enum Prepared {
    Ready(Arc<Loaded>),
    /// The registry could not give the image: retried under the restart policy.
    PullFailed,
    /// The image can never start (not a component, no entry point): the group fails.
    Failed,
}

/// The bytes of a container's image, with `Pulling`/`Pulled` events: built in, from a
/// file, or from a registry (pinned to `pinned` when a tag was resolved at create).
async fn fetch(
    ctx: &Arc<GroupCtx>,
    c: &Container,
    pinned: Option<String>,
    credentials: Option<&registry::Credentials>,
) -> Result<(String, Arc<[u8]>), registry::Error> {
    let start = Instant::now();
    if !images::is_registry_reference(&c.image) {
        let image = local(&ctx.rt, &c.image).await?;
        pulled_events(ctx, c, &image.source, image.len, &image.digest, start);
        return Ok((image.digest, image.bytes));
    }
    let registries = &ctx.rt.registries;
    let resolved = registries
        .resolve(&c.image, credentials, pinned.as_deref())
        .await?;
    if pinned.is_none() {
        let (id, generation, name, p) = (ctx.id, ctx.generation, c.name.clone(), resolved.pinned());
        if let Err(e) = ctx
            .rt
            .store
            .run(move |s| s.set_image_digest(id, generation, &name, &p))
            .await
        {
            tracing::error!(group = id, error = %e, "recording the pinned image failed");
        }
    }
    if resolved.present {
        let fetched = registries.fetch(&c.image, credentials, &resolved).await?;
        ctx.event(
            Some(&c.name),
            "Pulled",
            format!(
                "Container image \"{}\" already present on machine ({})",
                c.image,
                resolved.pinned()
            ),
            false,
        )
        .await;
        return Ok((fetched.digest, fetched.bytes));
    }
    ctx.event(
        Some(&c.name),
        "Pulling",
        format!(
            "pulling image \"{}\" ({}, {} bytes)",
            c.image,
            resolved.pinned(),
            resolved.layer.size
        ),
        false,
    )
    .await;
    let fetched = registries.fetch(&c.image, credentials, &resolved).await?;
    let how = if fetched.downloaded_here {
        "downloaded"
    } else {
        "downloaded once for another container"
    };
    ctx.event(
        Some(&c.name),
        "Pulled",
        format!(
            "Successfully pulled image \"{}\" ({}, {} bytes, {how}) in {}",
            c.image,
            resolved.pinned(),
            fetched.bytes.len(),
            ms(start.elapsed())
        ),
        false,
    )
    .await;
    Ok((fetched.digest, fetched.bytes))
}

/// Fetches and loads a container's image, with `Pulling`/`Pulled`/`Compiled`/`Created`
/// events; compiled code is shared by every container of the same content digest.
async fn load(
    ctx: &Arc<GroupCtx>,
    c: &Container,
    pinned: Option<String>,
    credentials: Option<&registry::Credentials>,
) -> Prepared {
    if images::is_registry_reference(&c.image) {
        // A pull can take a while: show it at once (local images say it with their events).
        ctx.set_state(&c.name, ContainerState::waiting("Pulling"), false)
            .await;
    }
    let (digest, bytes) = match fetch(ctx, c, pinned, credentials).await {
        Ok(image) => image,
        Err(e) => {
            let failure = if images::is_registry_reference(&c.image) {
                Prepared::PullFailed
            } else {
                Prepared::Failed
            };
            let message = format!("Failed to pull image \"{}\": {e}", c.image);
            not_started(ctx, c, message, "ErrImagePull").await;
            return failure;
        }
    };
    let size = bytes.len();
    match ctx.rt.engines.load(&digest, bytes).await {
        Ok((l, loaded_here)) => {
            ctx.rt.loaded_image(&c.image, &digest);
            if loaded_here && !l.cache_hit {
                let tier = if l.is_baseline() {
                    " by the baseline compiler; optimised code follows in the background"
                } else {
                    ""
                };
                let message = format!(
                    "Compiled image \"{}\" ({digest}, {size} bytes) in {}{tier}",
                    c.image,
                    ms(l.load_time)
                );
                ctx.defer_event(&c.name, "Compiled", message);
            }
            let how = match (loaded_here, l.cache_hit) {
                (false, _) => "compiled code already loaded".to_string(),
                (true, true) => format!("compiled code from cache in {}", ms(l.load_time)),
                (true, false) => format!("compiled in {}", ms(l.load_time)),
            };
            let created = format!("Created container {} ({how})", c.name);
            ctx.defer_event(&c.name, "Created", created);
            Prepared::Ready(l)
        }
        Err(e) => {
            let message = format!("Failed to start container {}: {e}", c.name);
            not_started(ctx, c, message, "Failed").await;
            Prepared::Failed
        }
    }
}

/// A container that cannot start: a Warning event saying why, and Waiting with `detail`.
async fn not_started(ctx: &Arc<GroupCtx>, c: &Container, message: String, detail: &str) {
    ctx.event(Some(&c.name), "Failed", message, true).await;
    ctx.set_state(&c.name, ContainerState::waiting(detail), false)
        .await;
}

/// The content digest and bytes of `image`, pulled with the credential of `credentials` for
/// its registry, ahead of any group of it (`POST .../cachedImages`).
pub(in crate::runtime) async fn pull_ahead(
    rt: &Arc<Runtime>,
    image: &str,
    credentials: &[crate::model::RegistryCredential],
) -> Result<(String, Arc<[u8]>), String> {
    if !images::is_registry_reference(image) {
        let image = local(rt, image).await.map_err(|e| e.to_string())?;
        return Ok((image.digest, image.bytes));
    }
    let credentials = credentials_for(credentials, image);
    let resolved = rt
        .registries
        .resolve(image, credentials.as_ref(), None)
        .await
        .map_err(|e| e.to_string())?;
    let fetched = rt
        .registries
        .fetch(image, credentials.as_ref(), &resolved)
        .await
        .map_err(|e| e.to_string())?;
    Ok((fetched.digest, fetched.bytes))
}
