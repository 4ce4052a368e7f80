//! The ARM shapes of the resource provider's read-only answers: the operations it offers,
//! a subscription's usages, the location's capabilities and its cached images (ACI's
//! `OperationListResult`, `UsageListResult`, `CapabilitiesListResult` and
//! `CachedImagesListResult`).

use crate::groups::{Quota, Usage};
use serde::Serialize;
use utoipa::ToSchema;

/// The operations the provider offers, for role definitions and `az provider operation`.
#[derive(Serialize, ToSchema)]
pub struct OperationList {
    pub value: Vec<ProviderOperation>,
}

#[derive(Serialize, ToSchema)]
pub struct ProviderOperation {
    /// `Microsoft.ContainerInstance/<resource>/<verb>`.
    pub name: String,
    pub display: OperationDisplay,
    /// Always `User`: every operation is one a caller asks for.
    pub origin: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct OperationDisplay {
    pub provider: &'static str,
    pub resource: &'static str,
    pub operation: &'static str,
    pub description: &'static str,
}

/// One operation of the provider: (name under the provider, resource, operation, description).
pub type OperationRow = (&'static str, &'static str, &'static str, &'static str);

pub fn operations(rows: &[OperationRow]) -> OperationList {
    OperationList {
        value: rows
            .iter()
            .map(
                |(name, resource, operation, description)| ProviderOperation {
                    name: format!("{}/{name}", super::PROVIDER),
                    display: OperationDisplay {
                        provider: "Microsoft Container Instance",
                        resource,
                        operation,
                        description,
                    },
                    origin: "User",
                },
            )
            .collect(),
    }
}

/// A subscription's usages in a location.
#[derive(Serialize, ToSchema)]
pub struct UsageList {
    pub value: Vec<UsageJson>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageJson {
    /// Always `Count`.
    pub unit: &'static str,
    pub current_value: u64,
    pub limit: u64,
    pub name: UsageName,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageName {
    /// `ContainerGroups` or `StandardCores`.
    pub value: &'static str,
    pub localized_value: &'static str,
}

pub fn usages(u: &Usage) -> UsageList {
    let one = |q: &Quota, value, localized_value| UsageJson {
        unit: "Count",
        current_value: q.used,
        limit: q.limit,
        name: UsageName {
            value,
            localized_value,
        },
    };
    UsageList {
        value: vec![
            one(&u.groups, "ContainerGroups", "Container Groups"),
            one(&u.cores, "StandardCores", "Standard Cores"),
        ],
    }
}

/// What one container group may have in a location.
#[derive(Serialize, ToSchema)]
pub struct CapabilitiesList<'a> {
    pub value: Vec<CapabilitiesJson<'a>>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CapabilitiesJson<'a> {
    /// Always `containerGroups`.
    pub resource_type: &'static str,
    /// Always `Linux`: a component sees a POSIX-like WASI system.
    pub os_type: &'static str,
    pub location: &'a str,
    /// Always `Public`: a group's ports are served on its own address.
    pub ip_address_type: &'static str,
    /// Always `None`: there are no GPUs.
    pub gpu: &'static str,
    pub capabilities: CapabilityLimits,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CapabilityLimits {
    /// The memory a group may request in all (`--max-memory-gb`).
    #[serde(rename = "maxMemoryInGB")]
    pub max_memory_in_gb: f64,
    /// The cores a group may request in all (`--max-cpu`).
    pub max_cpu: f64,
    pub max_gpu_count: f64,
}

pub fn capabilities(location: &str, max_cpu: f64, max_memory_gb: f64) -> CapabilitiesList<'_> {
    CapabilitiesList {
        value: vec![CapabilitiesJson {
            resource_type: "containerGroups",
            os_type: "Linux",
            location,
            ip_address_type: "Public",
            gpu: "None",
            capabilities: CapabilityLimits {
                max_memory_in_gb: max_memory_gb,
                max_cpu,
                max_gpu_count: 0.0,
            },
        }],
    }
}

/// The images whose compiled code is cached: a group of them starts without a pull or a
/// compile.
#[derive(Serialize, ToSchema)]
pub struct CachedImageList<'a> {
    pub value: Vec<CachedImage<'a>>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CachedImage<'a> {
    /// Always `Linux`.
    pub os_type: &'static str,
    pub image: &'a str,
}

pub fn cached_images(images: &[String]) -> CachedImageList<'_> {
    CachedImageList {
        value: images
            .iter()
            .map(|image| CachedImage {
                os_type: "Linux",
                image,
            })
            .collect(),
    }
}

/// What `POST .../cachedImages` answers: the image, its content digest, and whether its
/// compiled code was already loaded (200) or is being compiled now (202).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CachedImageAhead<'a> {
    /// Always `Linux`.
    pub os_type: &'static str,
    pub image: &'a str,
    /// The component's content digest (`sha256:...`).
    pub digest: &'a str,
    /// `true` when its compiled code was already loaded; else it is compiling, and the list
    /// of cached images shows it when done.
    pub compiled: bool,
}
