//! The API's OpenAPI 3 document, served at `/openapi.json`. Operations come from the
//! `#[utoipa::path]` attribute on each handler, next to the code that answers them; the
//! bodies are described by the types below, which follow what `render` writes and what
//! `model::parse` reads. CI runs schemathesis against a live platform with this document,
//! so a handler and its description cannot drift apart unnoticed.

// The body types are never built: they describe what `render` writes and `parse` reads.
#![allow(dead_code)]

use super::{access, attach, groups, logs};
use axum::Json;
use std::collections::BTreeMap;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};

/// `{"error": {"code", "message"}}`: every error of the API.
#[derive(ToSchema)]
pub struct ErrorResponse {
    pub error: ErrorDetail,
}

#[derive(ToSchema)]
pub struct ErrorDetail {
    /// ARM's code where one exists (`InvalidRequestContent`, `ResourceNotFound`, ...).
    pub code: String,
    /// What is wrong, naming the field and what is allowed.
    pub message: String,
}

/// A resource group.
#[derive(ToSchema)]
pub struct ResourceGroup {
    #[schema(read_only)]
    pub id: String,
    #[schema(read_only)]
    pub name: String,
    #[schema(read_only, rename = "type")]
    pub kind: String,
    pub location: String,
    pub tags: BTreeMap<String, String>,
    pub properties: ResourceGroupProperties,
}

#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ResourceGroupProperties {
    pub provisioning_state: String,
}

/// The body of a resource group PUT.
#[derive(ToSchema)]
pub struct ResourceGroupInput {
    pub location: Option<String>,
    pub tags: Option<BTreeMap<String, String>>,
}

#[derive(ToSchema)]
pub struct ResourceGroupList {
    pub value: Vec<ResourceGroup>,
}

/// A container group as GET answers it (lists leave out `instanceView`).
#[derive(ToSchema)]
pub struct ContainerGroup {
    pub id: String,
    pub name: String,
    #[schema(rename = "type")]
    pub kind: String,
    pub location: String,
    pub tags: BTreeMap<String, String>,
    pub properties: ContainerGroupProperties,
}

#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ContainerGroupProperties {
    pub sku: String,
    /// Pending, Creating, Succeeded or Failed.
    pub provisioning_state: String,
    pub os_type: String,
    /// Always, OnFailure or Never.
    pub restart_policy: String,
    pub containers: Vec<Container>,
    pub init_containers: Vec<Container>,
    pub volumes: Vec<Volume>,
    /// Registries and usernames; a password is never returned.
    pub image_registry_credentials: Vec<RegistryCredentialView>,
    pub ip_address: Option<IpAddress>,
    pub instance_view: Option<GroupInstanceView>,
}

#[derive(ToSchema)]
pub struct Container {
    pub name: String,
    pub properties: ContainerProperties,
}

#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ContainerProperties {
    /// `waci/<name>`, a path to a .wasm file, or `registry/repository:tag` (or `@sha256:...`).
    pub image: String,
    pub command: Vec<String>,
    pub ports: Vec<Port>,
    pub environment_variables: Vec<EnvironmentVariable>,
    pub resources: ResourceRequirements,
    pub volume_mounts: Option<Vec<VolumeMount>>,
    pub instance_view: Option<ContainerInstanceView>,
}

#[derive(ToSchema)]
pub struct Port {
    /// TCP or UDP.
    pub protocol: String,
    pub port: u16,
}

#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct EnvironmentVariable {
    pub name: String,
    pub value: Option<String>,
    /// Written, never read back: it comes back `null`.
    pub secure_value: Option<String>,
}

#[derive(ToSchema)]
pub struct ResourceRequirements {
    pub requests: Resources,
    pub limits: Option<ResourceLimits>,
}

#[derive(ToSchema)]
pub struct Resources {
    pub cpu: f64,
    #[schema(rename = "memoryInGB")]
    pub memory_in_gb: f64,
}

#[derive(ToSchema)]
pub struct ResourceLimits {
    pub cpu: Option<f64>,
    #[schema(rename = "memoryInGB")]
    pub memory_in_gb: Option<f64>,
}

#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct VolumeMount {
    pub name: String,
    pub mount_path: String,
    pub read_only: Option<bool>,
}

/// A volume: `emptyDir: {}` or `secret: {file name: base64}` (which comes back `{}`).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct Volume {
    pub name: String,
    pub empty_dir: Option<BTreeMap<String, String>>,
    pub secret: Option<BTreeMap<String, String>>,
}

#[derive(ToSchema)]
pub struct RegistryCredentialView {
    pub server: String,
    pub username: Option<String>,
}

#[derive(ToSchema)]
pub struct RegistryCredential {
    pub server: String,
    pub username: Option<String>,
    #[schema(write_only)]
    pub password: Option<String>,
}

#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct IpAddress {
    /// Public or Private.
    #[schema(rename = "type")]
    pub kind: String,
    pub ports: Vec<Port>,
    pub ip: Option<String>,
    pub dns_name_label: Option<String>,
    /// Unsecure, TenantReuse, SubscriptionReuse, ResourceGroupReuse or Noreuse.
    pub auto_generated_domain_name_label_scope: Option<String>,
    pub fqdn: Option<String>,
}

#[derive(ToSchema)]
pub struct GroupInstanceView {
    /// Pending, Running, Succeeded, Failed or Stopped.
    pub state: String,
    pub events: Vec<Event>,
}

#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ContainerInstanceView {
    pub restart_count: u32,
    pub current_state: ContainerState,
    pub previous_state: Option<ContainerState>,
    pub events: Vec<Event>,
    /// The pinned image (`registry/repository@sha256:...`) a registry tag resolved to.
    pub image: Option<String>,
}

#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ContainerState {
    /// Waiting, Running or Terminated.
    pub state: String,
    pub start_time: Option<String>,
    pub finish_time: Option<String>,
    pub exit_code: Option<i32>,
    pub detail_status: Option<String>,
}

/// An instance-view event (Pulling, Pulled, Compiled, Created, Started, Failed, BackOff...).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct Event {
    pub count: u32,
    pub first_timestamp: String,
    pub last_timestamp: String,
    pub name: String,
    pub message: String,
    /// Normal or Warning.
    #[schema(rename = "type")]
    pub kind: String,
}

/// The body of a container group PUT, in ACI's shape (property names without case).
#[derive(ToSchema)]
#[schema(example = json!({
    "location": "local",
    "properties": {
        "osType": "Linux",
        "restartPolicy": "Always",
        "containers": [{"name": "hello", "properties": {
            "image": "waci/hello-http",
            "ports": [{"protocol": "TCP", "port": 80}],
            "resources": {"requests": {"cpu": 1.0, "memoryInGB": 0.5}}
        }}],
        "ipAddress": {"type": "Public", "ports": [{"protocol": "TCP", "port": 80}]}
    }
}))]
pub struct ContainerGroupInput {
    pub location: Option<String>,
    pub tags: Option<BTreeMap<String, String>>,
    pub properties: ContainerGroupPropertiesInput,
}

#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ContainerGroupPropertiesInput {
    pub os_type: Option<String>,
    pub restart_policy: Option<String>,
    pub containers: Vec<ContainerInput>,
    pub init_containers: Option<Vec<ContainerInput>>,
    pub volumes: Option<Vec<Volume>>,
    pub image_registry_credentials: Option<Vec<RegistryCredential>>,
    pub ip_address: Option<IpAddressInput>,
}

#[derive(ToSchema)]
pub struct ContainerInput {
    pub name: String,
    pub properties: ContainerPropertiesInput,
}

#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ContainerPropertiesInput {
    pub image: String,
    pub command: Option<Vec<String>>,
    pub ports: Option<Vec<Port>>,
    pub environment_variables: Option<Vec<EnvironmentVariable>>,
    pub resources: ResourceRequirements,
    pub volume_mounts: Option<Vec<VolumeMount>>,
}

#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct IpAddressInput {
    #[schema(rename = "type")]
    pub kind: String,
    pub ports: Vec<Port>,
    pub dns_name_label: Option<String>,
    pub auto_generated_domain_name_label_scope: Option<String>,
}

/// The body of a PATCH: tags only.
#[derive(ToSchema)]
pub struct TagsInput {
    pub tags: BTreeMap<String, String>,
}

#[derive(ToSchema)]
pub struct ContainerGroupList {
    pub value: Vec<ContainerGroup>,
}

/// The status of a long-running operation, as the Azure SDKs' pollers read it.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct OperationStatus {
    /// The container group's resource id.
    pub id: String,
    pub name: String,
    /// InProgress, Succeeded or Failed.
    pub status: String,
    pub start_time: String,
    pub properties: OperationProperties,
}

#[derive(ToSchema)]
pub struct OperationProperties {
    pub events: Vec<Event>,
}

#[derive(ToSchema)]
pub struct Logs {
    pub content: String,
}

/// Where to read a container's output: a websocket and its one-time password.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct AttachInfo {
    pub web_socket_uri: String,
    pub password: String,
}

#[derive(ToSchema)]
pub struct TokenInput {
    /// The only subscription the token sees.
    pub subscription: String,
    /// How long it lives: 7d, 12h, 30m; absent: until revoked.
    pub expires: Option<String>,
}

#[derive(ToSchema)]
pub struct Token {
    pub id: String,
    pub subscription: String,
    pub created: String,
    pub expires: Option<String>,
}

/// A new token: the secret is shown this once.
#[derive(ToSchema)]
pub struct TokenCreated {
    pub id: String,
    pub subscription: String,
    pub created: String,
    pub expires: Option<String>,
    pub token: String,
}

#[derive(ToSchema)]
pub struct TokenList {
    pub value: Vec<Token>,
}

/// `api-version`, required on every ARM path.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ApiVersion {
    /// One of ACI's published versions from 2021-10-01 on (newest stable: 2025-09-01).
    #[param(rename = "api-version", example = "2025-09-01")]
    pub api_version: String,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct SubscriptionPath {
    #[param(pattern = r"^[A-Za-z0-9-]{1,64}$")]
    pub sub: String,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ResourceGroupPath {
    #[param(pattern = r"^[A-Za-z0-9-]{1,64}$")]
    pub sub: String,
    #[param(pattern = r"^[A-Za-z0-9_.()-]{0,89}[A-Za-z0-9_()-]$")]
    pub rg: String,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct GroupPath {
    #[param(pattern = r"^[A-Za-z0-9-]{1,64}$")]
    pub sub: String,
    #[param(pattern = r"^[A-Za-z0-9_.()-]{0,89}[A-Za-z0-9_()-]$")]
    pub rg: String,
    #[param(pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")]
    pub name: String,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ContainerPath {
    #[param(pattern = r"^[A-Za-z0-9-]{1,64}$")]
    pub sub: String,
    #[param(pattern = r"^[A-Za-z0-9_.()-]{0,89}[A-Za-z0-9_()-]$")]
    pub rg: String,
    #[param(pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")]
    pub name: String,
    #[param(pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")]
    pub container: String,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ActionPath {
    #[param(pattern = r"^[A-Za-z0-9-]{1,64}$")]
    pub sub: String,
    #[param(pattern = r"^[A-Za-z0-9_.()-]{0,89}[A-Za-z0-9_()-]$")]
    pub rg: String,
    #[param(pattern = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")]
    pub name: String,
    /// restart, stop or start.
    pub action: String,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct OperationPath {
    #[param(pattern = r"^[A-Za-z0-9-]{1,64}$")]
    pub sub: String,
    pub loc: String,
    pub id: String,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogsQuery {
    /// Only the last N lines.
    pub tail: Option<u64>,
    /// Prefix each line with its RFC 3339 time.
    pub timestamps: Option<bool>,
    /// Stream lines as they are written (chunked text) until the container ends.
    pub follow: Option<bool>,
}

/// What the attributes cannot say: the bearer scheme, and `api-version`'s values, taken
/// from [`super::API_VERSIONS`], the list the API checks against.
struct Refinements;

impl Modify for Refinements {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        let versions = ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(super::API_VERSIONS.iter().copied()))
            .build();
        for item in api.paths.paths.values_mut() {
            let ops: [&mut Option<Operation>; 5] = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in ops.into_iter().flatten() {
                for p in op.parameters.iter_mut().flatten() {
                    if p.name == "api-version" {
                        p.schema = Some(versions.clone().into());
                    }
                }
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "waci control API",
        description = "WebAssembly Container Instances: container groups in Azure Container Instances' resource shape, on ARM paths."
    ),
    paths(
        groups::list_resource_groups,
        groups::put_resource_group,
        groups::get_resource_group,
        groups::delete_resource_group,
        groups::list_in_resource_group,
        groups::put_group,
        groups::get_group,
        groups::patch_group,
        groups::delete_group,
        groups::action,
        groups::list_in_subscription,
        groups::operation,
        logs::logs,
        attach::attach,
        super::exec,
        access::create,
        access::list,
        access::revoke,
    ),
    modifiers(&Refinements),
    security(("bearer" = [])),
)]
pub struct ApiDoc;

/// `GET /openapi.json`.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every route of the router is in the document, with its verbs.
    #[test]
    fn the_document_covers_every_route() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        let cg = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerInstance/containerGroups";
        let expected: &[(&str, &[&str])] = &[
            ("/subscriptions/{sub}/resourceGroups", &["get"]),
            (
                "/subscriptions/{sub}/resourceGroups/{rg}",
                &["put", "get", "delete"],
            ),
            (cg, &["get"]),
            (
                &format!("{cg}/{{name}}"),
                &["put", "get", "patch", "delete"],
            ),
            (&format!("{cg}/{{name}}/{{action}}"), &["post"]),
            (
                &format!("{cg}/{{name}}/containers/{{container}}/logs"),
                &["get"],
            ),
            (
                &format!("{cg}/{{name}}/containers/{{container}}/attach"),
                &["post"],
            ),
            (
                &format!("{cg}/{{name}}/containers/{{container}}/exec"),
                &["post"],
            ),
            (
                "/subscriptions/{sub}/providers/Microsoft.ContainerInstance/containerGroups",
                &["get"],
            ),
            (
                "/subscriptions/{sub}/providers/Microsoft.ContainerInstance/locations/{loc}/operations/{id}",
                &["get"],
            ),
            ("/tokens", &["post", "get"]),
            ("/tokens/{id}", &["delete"]),
        ];
        for (path, verbs) in expected {
            let p = paths
                .get(*path)
                .unwrap_or_else(|| panic!("{path} is missing"));
            for v in *verbs {
                assert!(p.get(*v).is_some(), "{v} {path} is missing");
            }
        }
        assert_eq!(
            paths.len(),
            expected.len(),
            "{:?}",
            paths.keys().collect::<Vec<_>>()
        );
        assert_eq!(doc["openapi"].as_str().map(|v| &v[..2]), Some("3."));
    }
}
