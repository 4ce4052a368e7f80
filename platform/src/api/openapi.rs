//! The API's OpenAPI 3 document, served at `/openapi.json`. Operations come from the
//! `#[utoipa::path]` attribute on each handler, next to the code that answers them, and are
//! collected by the router as it registers them (`utoipa_axum::routes!`), so a route and its
//! description are written once. Answers are described by the very structs that `render`
//! sends; request bodies by the input types below, which follow what `model::parse` reads
//! (parse matches names without case, so it reads no typed struct). CI runs schemathesis
//! against a live platform with this document.

use super::render::{self, ErrorResponse};
use std::collections::BTreeMap;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, IntoResponses, Modify, OpenApi, ToSchema};

/// The errors any call of the API can answer with: bad input or api-version, no valid
/// token, and not found (a scoped token's view of another subscription is 404 too).
#[derive(IntoResponses)]
#[allow(dead_code)] // describes answers `ApiError` writes; never built
pub enum ErrorResponses {
    #[response(status = 400, description = "bad input or api-version")]
    BadRequest(ErrorResponse<'static>),
    #[response(status = 401, description = "no valid token")]
    Unauthorized(ErrorResponse<'static>),
    #[response(status = 404, description = "not found")]
    NotFound(ErrorResponse<'static>),
}

/// Request bodies, as `model::parse` and the token API read them. Never built: parsing
/// goes through JSON values so that names match without case.
#[allow(dead_code)]
mod input {
    use super::*;

    /// The body of a resource group PUT.
    #[derive(ToSchema)]
    pub struct ResourceGroupInput {
        pub location: Option<String>,
        pub tags: Option<BTreeMap<String, String>>,
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
        /// A documented no-op, returned as given.
        pub zones: Option<Vec<String>>,
        pub properties: ContainerGroupPropertiesInput,
    }

    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct ContainerGroupPropertiesInput {
        pub os_type: Option<String>,
        pub restart_policy: Option<String>,
        pub containers: Vec<ContainerInput>,
        pub init_containers: Option<Vec<ContainerInput>>,
        pub volumes: Option<Vec<VolumeInput>>,
        pub image_registry_credentials: Option<Vec<RegistryCredential>>,
        pub ip_address: Option<IpAddressInput>,
        /// Only `Standard` (a no-op).
        pub sku: Option<String>,
        /// Only `Regular` (a no-op, returned as given).
        pub priority: Option<String>,
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
        pub ports: Option<Vec<render::Port>>,
        pub environment_variables: Option<Vec<EnvironmentVariableInput>>,
        pub resources: render::ResourceRequirements,
        pub volume_mounts: Option<Vec<VolumeMountInput>>,
        /// Serve the requests of this service with warm instances kept between requests
        /// (default false: a fresh instance per request).
        pub instance_reuse: Option<bool>,
        /// Failing it `failureThreshold` times in a row restarts the container under the
        /// restart policy.
        pub liveness_probe: Option<ProbeInput>,
        /// Until it passes, the container gets no traffic.
        pub readiness_probe: Option<ProbeInput>,
        /// A documented no-op (`privileged: true` and `capabilities.add` are refused).
        #[schema(value_type = Option<Object>)]
        pub security_context: Option<()>,
    }

    /// ACI's `ContainerProbe`: exactly one of `httpGet` and `exec`. Defaults: period 10 s,
    /// timeout 1 s, failure threshold 3, success threshold 1, no initial delay.
    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct ProbeInput {
        pub http_get: Option<HttpGetInput>,
        pub exec: Option<ExecProbeInput>,
        pub initial_delay_seconds: Option<u32>,
        pub period_seconds: Option<u32>,
        pub failure_threshold: Option<u32>,
        pub success_threshold: Option<u32>,
        pub timeout_seconds: Option<u32>,
    }

    /// A command run in the container's sandbox as exec runs it; exit code 0 passes.
    #[derive(ToSchema)]
    pub struct ExecProbeInput {
        pub command: Vec<String>,
    }

    /// A GET of `path` on a TCP port the container declares, made in process.
    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct HttpGetInput {
        pub path: Option<String>,
        pub port: u16,
        /// http or https.
        pub scheme: Option<String>,
        pub http_headers: Option<Vec<HttpHeaderInput>>,
    }

    #[derive(ToSchema)]
    pub struct HttpHeaderInput {
        pub name: String,
        pub value: Option<String>,
    }

    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct IpAddressInput {
        #[schema(rename = "type")]
        pub kind: String,
        pub ports: Vec<render::Port>,
        pub dns_name_label: Option<String>,
        pub auto_generated_domain_name_label_scope: Option<String>,
    }

    /// The body of an exec (ACI's `ContainerExecRequest`).
    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase", example = json!({"command": "sh", "terminalSize": {"rows": 24, "cols": 80}}))]
    pub struct ExecInput {
        /// The command line, split into words as a shell splits them: a toolbox command
        /// (`sh`, `ls /data`, `cat /data/x`), or the container's own argv[0] and arguments.
        pub command: String,
        /// The client's terminal, when it is one: the command then runs on a terminal.
        pub terminal_size: Option<TerminalSizeInput>,
    }

    /// The body of `POST .../cachedImages`: an image to pull and compile now, ahead of any
    /// group of it.
    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase", example = json!({"image": "waci/hello-http"}))]
    pub struct ImageToCacheInput {
        /// A registry reference (`registry/repository:tag` or `@sha256:...`), a file, or a
        /// built-in image.
        pub image: String,
        /// The credential of the image's registry, when it is private.
        pub image_registry_credentials: Option<Vec<RegistryCredential>>,
    }

    #[derive(ToSchema)]
    pub struct TerminalSizeInput {
        pub rows: u16,
        pub cols: u16,
    }

    /// The body of a PATCH: tags only.
    #[derive(ToSchema)]
    pub struct TagsInput {
        pub tags: BTreeMap<String, String>,
    }

    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct EnvironmentVariableInput {
        pub name: String,
        pub value: Option<String>,
        /// Written, never read back: it comes back `null`.
        pub secure_value: Option<String>,
    }

    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct VolumeMountInput {
        pub name: String,
        pub mount_path: String,
        pub read_only: Option<bool>,
    }

    /// A volume: `emptyDir: {}` or `secret: {file name: base64}` (which comes back `{}`).
    #[derive(ToSchema)]
    #[schema(rename_all = "camelCase")]
    pub struct VolumeInput {
        pub name: String,
        pub empty_dir: Option<BTreeMap<String, String>>,
        pub secret: Option<BTreeMap<String, String>>,
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
    pub struct TokenInput {
        /// The only subscription the token sees; required unless `metricsOnly`.
        pub subscription: Option<String>,
        /// How long it lives: 7d, 12h, 30m; absent: until revoked.
        pub expires: Option<String>,
        /// A token for a metrics scraper: it may read `/metrics` and nothing else.
        pub metrics_only: Option<bool>,
    }
}

pub use input::*;

/// Path and query parameters, as the handlers read them (by position, through axum's
/// extractors). Never built: they describe.
#[allow(dead_code)]
mod params {
    use super::*;

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
}

pub use params::*;

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

/// The router and the document it collected, with what the attributes cannot say added.
pub fn refine<R>(
    (router, mut doc): (R, utoipa::openapi::OpenApi),
) -> (R, utoipa::openapi::OpenApi) {
    Refinements.modify(&mut doc);
    (router, doc)
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "waci control API",
        description = "WebAssembly Container Instances: container groups in Azure Container Instances' resource shape, on ARM paths."
    ),
    components(schemas(ErrorResponse)),
    security(("bearer" = [])),
)]
pub struct ApiDoc;

#[cfg(test)]
mod tests {
    use super::refine;
    /// The document the router collects: OpenAPI 3, the bearer scheme, and on every ARM
    /// operation the api-version parameter with the versions the API accepts.
    #[test]
    fn every_arm_operation_lists_the_accepted_api_versions() {
        let (_, doc) = refine(super::super::routes().split_for_parts());
        let doc = serde_json::to_value(doc).unwrap();
        assert_eq!(doc["openapi"].as_str().map(|v| &v[..2]), Some("3."));
        assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
        let paths = doc["paths"].as_object().unwrap();
        assert!(paths.len() >= 12, "{:?}", paths.keys().collect::<Vec<_>>());
        for (path, item) in paths {
            for (verb, op) in item.as_object().unwrap() {
                let params = op["parameters"].as_array().cloned().unwrap_or_default();
                let version = params.iter().find(|p| p["name"] == "api-version");
                if path.starts_with("/subscriptions/") {
                    let values =
                        &version.unwrap_or_else(|| panic!("{verb} {path}"))["schema"]["enum"];
                    assert_eq!(
                        values.as_array().map(Vec::len),
                        Some(super::super::API_VERSIONS.len()),
                        "{verb} {path}"
                    );
                }
                assert!(
                    op["responses"]["401"].is_object(),
                    "{verb} {path} documents 401"
                );
            }
        }
    }
}
