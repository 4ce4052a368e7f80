//! The ARM JSON shape of every answer of the control API, written once: each struct here is
//! both what a handler sends and, through `ToSchema`, what the OpenAPI document says it
//! sends. `group.rs` holds the container group; this file the smaller shapes (resource
//! groups, lists, async operations, logs, attach, tokens, errors).
//!
//! **Invariant:** nothing else in the crate writes the ARM shape of an answer; secrets are
//! never written (see `group.rs`).

mod group;
mod probe;
mod provider;
#[cfg(test)]
mod tests;

pub use group::*;
pub use probe::*;
pub use provider::*;

use crate::model::Event as ModelEvent;
use crate::store::{Operation, ResourceGroupRow, TokenRow};
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

pub use crate::groups::PROVIDER;

/// A page of the container groups of a resource group or subscription, without
/// `instanceView`.
#[derive(Serialize, ToSchema)]
pub struct ContainerGroupList<'a> {
    #[schema(value_type = Vec<ContainerGroup<'static>>)]
    pub value: Vec<GroupJson<'a>>,
    /// The URL of the next page, while more follow; absent on the last page.
    #[serde(rename = "nextLink", skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
}

/// A page of a subscription's resource groups.
#[derive(Serialize, ToSchema)]
pub struct ResourceGroupList<'a> {
    pub value: Vec<ResourceGroup<'a>>,
    /// The URL of the next page, while more follow; absent on the last page.
    #[serde(rename = "nextLink", skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TokenList<'a> {
    pub value: Vec<Token<'a>>,
}

/// A resource group.
#[derive(Serialize, ToSchema)]
pub struct ResourceGroup<'a> {
    #[schema(read_only)]
    pub id: String,
    #[schema(read_only)]
    pub name: &'a str,
    #[serde(rename = "type")]
    #[schema(read_only)]
    pub kind: &'static str,
    pub location: &'a str,
    pub tags: &'a BTreeMap<String, String>,
    pub properties: ResourceGroupProperties,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceGroupProperties {
    pub provisioning_state: &'static str,
}

pub fn resource_group(rg: &ResourceGroupRow) -> ResourceGroup<'_> {
    ResourceGroup {
        id: format!(
            "/subscriptions/{}/resourceGroups/{}",
            rg.subscription, rg.name
        ),
        name: &rg.name,
        kind: "Microsoft.Resources/resourceGroups",
        location: &rg.location,
        tags: &rg.tags,
        properties: ResourceGroupProperties {
            provisioning_state: "Succeeded",
        },
    }
}

/// The status of a long-running operation, as the Azure SDKs' pollers read it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OperationStatus<'a> {
    /// The container group's resource id.
    pub id: &'a str,
    pub name: &'a str,
    /// InProgress, Succeeded or Failed.
    pub status: &'a str,
    pub start_time: &'a str,
    pub properties: OperationProperties<'a>,
}

#[derive(Serialize, ToSchema)]
pub struct OperationProperties<'a> {
    pub events: Vec<Event<'a>>,
}

pub fn operation<'a>(
    op: &'a Operation,
    events: &'a [(Option<String>, ModelEvent)],
) -> OperationStatus<'a> {
    OperationStatus {
        id: &op.resource_id,
        name: &op.id,
        status: &op.status,
        start_time: &op.start_time,
        properties: OperationProperties {
            events: events.iter().map(|(_, e)| event_out(e)).collect(),
        },
    }
}

/// A container's log.
#[derive(Serialize, ToSchema)]
pub struct Logs {
    pub content: String,
}

/// Where to read a container's output: a websocket and its one-time password.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttachInfo {
    pub web_socket_uri: String,
    pub password: String,
}

/// A scoped token as the token API lists it (never its secret).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Token<'a> {
    pub id: &'a str,
    /// The only subscription the token sees (empty for a metrics-only token).
    pub subscription: &'a str,
    /// May read `/metrics` and nothing else.
    pub metrics_only: bool,
    pub created: &'a str,
    /// When it stops working; `null`: until revoked.
    pub expires: Option<&'a str>,
    /// The secret, in the answer to its creation only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<&'a str>,
}

pub fn token(t: &TokenRow) -> Token<'_> {
    Token {
        id: &t.id,
        subscription: &t.subscription,
        metrics_only: t.metrics_only,
        created: &t.created,
        expires: t.expires.as_deref(),
        token: None,
    }
}

/// `{"error": {"code", "message"}}`: every error of the API.
#[derive(Serialize, ToSchema)]
pub struct ErrorResponse<'a> {
    pub error: ErrorDetail<'a>,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail<'a> {
    /// ARM's code where one exists (`InvalidRequestContent`, `ResourceNotFound`, ...).
    pub code: &'a str,
    /// What is wrong, naming the field and what is allowed.
    pub message: &'a str,
}
