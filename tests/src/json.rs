//! Reading a container group's ARM JSON: the few fields the tests and the benchmarks look
//! at again and again (states, exit codes, restarts, events, IP and FQDN), each in one place
//! so a test says what it checks rather than where the field sits. The `*_of` getters panic
//! with the group in the message; the others answer `None` or an empty value.

use serde_json::Value;

/// The group's `instanceView.state` (`Pending`, `Running`, `Succeeded`, ...), or "".
pub fn state(group: &Value) -> &str {
    group["properties"]["instanceView"]["state"]
        .as_str()
        .unwrap_or_default()
}

/// The group's `provisioningState`, or "".
pub fn provisioning_state(group: &Value) -> &str {
    group["properties"]["provisioningState"]
        .as_str()
        .unwrap_or_default()
}

/// The instance view of the group's first container (`main` in a [`crate::group_body`]).
pub fn main_view(group: &Value) -> &Value {
    &group["properties"]["containers"][0]["properties"]["instanceView"]
}

/// The first container's `currentState` (`state`, `exitCode`, `detailStatus`, ...).
pub fn current_state(group: &Value) -> &Value {
    &main_view(group)["currentState"]
}

/// The first container's exit code, once it has ended.
pub fn exit_code(group: &Value) -> Option<i64> {
    current_state(group)["exitCode"].as_i64()
}

/// The first container's `detailStatus`, or "".
pub fn detail_status(group: &Value) -> &str {
    current_state(group)["detailStatus"]
        .as_str()
        .unwrap_or_default()
}

/// How often the first container was restarted.
pub fn restart_count(group: &Value) -> u64 {
    main_view(group)["restartCount"].as_u64().unwrap_or(0)
}

/// The first container's events, oldest first.
pub fn events(group: &Value) -> &[Value] {
    main_view(group)["events"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// The first container's events as JSON text, to look for a name or a message in.
pub fn events_text(group: &Value) -> String {
    main_view(group)["events"].to_string()
}

/// The names of the first container's events, in order.
pub fn event_names(group: &Value) -> Vec<String> {
    events(group)
        .iter()
        .map(|e| e["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The group's IP, once it has one.
pub fn ip(group: &Value) -> Option<&str> {
    group["properties"]["ipAddress"]["ip"].as_str()
}

/// The group's IP; panics if it has none.
pub fn ip_of(group: &Value) -> String {
    ip(group)
        .unwrap_or_else(|| panic!("the group has no IP: {group}"))
        .to_string()
}

/// The group's FQDN; panics if it has none.
pub fn fqdn_of(group: &Value) -> String {
    group["properties"]["ipAddress"]["fqdn"]
        .as_str()
        .unwrap_or_else(|| panic!("the group has no FQDN: {group}"))
        .to_string()
}
