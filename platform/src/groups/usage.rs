//! What the provider's endpoints report: a subscription's use against its quotas, the images
//! whose compiled code is cached (and an image compiled ahead of its groups), and whether a
//! group's images are ready to start at once (which tells an ARM poller how soon to ask
//! again).

use super::{Error, Groups, Result};
use crate::images;
use crate::model::ContainerGroupSpec;
use crate::model::parse::ImageToCache;

/// One quota: how much is used of how much.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quota {
    pub used: u64,
    pub limit: u64,
}

/// A subscription's use of the platform.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    /// Container groups held, against `--max-groups-per-subscription`.
    pub groups: Quota,
    /// Cores requested by the groups' containers, rounded up, against as many as a full
    /// quota of the largest groups may request: the group quota times `--max-cpu`.
    pub cores: Quota,
}

impl Groups {
    /// What `subscription` uses; `max_cpu` is the largest group's cores.
    pub async fn usage(&self, subscription: &str, max_cpu: f64) -> Result<Usage> {
        let sub = subscription.to_string();
        let used = self.store.run(move |s| s.usage(&sub)).await?;
        let max_groups = self.settings.max_groups_per_subscription;
        Ok(Usage {
            groups: Quota {
                used: used.groups,
                limit: max_groups,
            },
            cores: Quota {
                used: used.cores.ceil() as u64,
                limit: (max_groups as f64 * max_cpu).ceil() as u64,
            },
        })
    }

    /// The image references whose compiled code the runtime holds, sorted, as far as
    /// `subscription` may know them: the built-in images and those its own groups name (an
    /// image another subscription pulled is not shown: its name may be private).
    pub async fn cached_images(&self, subscription: &str) -> Result<Vec<String>> {
        let sub = subscription.to_string();
        let own: Vec<String> = self
            .store
            .run(move |s| s.list_groups(Some(&sub), None))
            .await?
            .iter()
            .flat_map(|g| g.spec.containers.iter().chain(&g.spec.init_containers))
            .map(|c| c.image.clone())
            .collect();
        let ahead = self
            .cached_ahead
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(subscription)
            .cloned()
            .unwrap_or_default();
        let mut cached = self.runtime.cached_images();
        cached.retain(|image| {
            images::is_built_in(image) || own.contains(image) || ahead.contains(image)
        });
        Ok(cached)
    }

    /// Pulls `request.image` and compiles it in the background, so that a group of it starts
    /// as from the cache; the subscription's list of cached images shows it once compiled.
    /// Answers when the image is here, with its content digest and whether its compiled
    /// code was already loaded; an image that cannot be pulled is
    /// [`Error::InaccessibleImage`].
    pub async fn cache_image(
        &self,
        subscription: &str,
        request: &ImageToCache,
    ) -> Result<(String, bool)> {
        let image = &request.image;
        let cached = self
            .runtime
            .cache_image(image, &request.registry_credentials)
            .await
            .map_err(|why| Error::InaccessibleImage {
                image: image.clone(),
                why,
            })?;
        self.cached_ahead
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(subscription.to_string())
            .or_default()
            .insert(image.clone());
        Ok(cached)
    }

    /// Whether every image of `spec` starts without a registry pull: built in, a local
    /// file, or already compiled. Such a group runs within a second of its put.
    pub fn starts_at_once(&self, spec: &ContainerGroupSpec) -> bool {
        let cached = self.runtime.cached_images();
        spec.containers
            .iter()
            .chain(&spec.init_containers)
            .all(|c| !images::is_registry_reference(&c.image) || cached.contains(&c.image))
    }
}
