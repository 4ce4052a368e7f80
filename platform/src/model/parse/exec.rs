//! The body of an exec request, ACI's `ContainerExecRequest`: `command`, one string split
//! into words as a shell splits them (quotes, backslashes), and `terminalSize`
//! (`{rows, cols}`), which a client sends when it is a terminal.

use super::{At, Res, invalid};
use serde_json::Value;

/// The longest command line: a command, not a script.
pub const MAX_COMMAND_BYTES: usize = 8 * 1024;
/// The largest terminal side a client may claim.
pub const MAX_TERMINAL_SIDE: f64 = 10_000.0;

/// What an exec runs, and on what.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecRequest {
    /// The command's words; never empty.
    pub argv: Vec<String>,
    /// Present when the client is a terminal.
    pub terminal: Option<TerminalSize>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TerminalSize {
    pub rows: u16,
    pub cols: u16,
}

pub fn exec_request(body: &Value) -> Res<ExecRequest> {
    let root = At::root(body, "")?;
    let command = root.required_str("command")?;
    if command.len() > MAX_COMMAND_BYTES {
        return Err(invalid(
            "command",
            format!("'command' is longer than {MAX_COMMAND_BYTES} bytes."),
        ));
    }
    let argv = shlex::split(command).ok_or_else(|| {
        invalid(
            "command",
            "'command' has an unclosed quote or a trailing backslash.",
        )
    })?;
    if argv.is_empty() {
        return Err(invalid(
            "command",
            "'command' is empty; give a command such as 'sh' or 'ls /data'.",
        ));
    }
    let terminal = match root.obj("terminalSize")? {
        None => None,
        Some(t) => Some(TerminalSize {
            rows: side(&t, "rows")?,
            cols: side(&t, "cols")?,
        }),
    };
    Ok(ExecRequest { argv, terminal })
}

fn side(t: &At<'_>, key: &str) -> Res<u16> {
    let field = t.field(key);
    let n = t
        .num(key)?
        .ok_or_else(|| invalid(&field, format!("Required property '{field}' is missing.")))?;
    if n.fract() != 0.0 || !(1.0..=MAX_TERMINAL_SIDE).contains(&n) {
        return Err(invalid(
            &field,
            format!("'{field}' must be a whole number from 1 to {MAX_TERMINAL_SIDE}."),
        ));
    }
    Ok(n as u16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(body: Value, expected: Result<(&[&str], Option<(u16, u16)>), &str>) {
        let got = exec_request(&body).map(|r| (r.argv, r.terminal.map(|t| (t.rows, t.cols))));
        match expected {
            Ok((argv, size)) => assert_eq!(
                got,
                Ok((argv.iter().map(|s| s.to_string()).collect(), size)),
                "{body}"
            ),
            Err(field) => assert_eq!(got.map_err(|e| e.field), Err(field.to_string()), "{body}"),
        }
    }

    #[test]
    fn an_exec_request_is_a_command_line_and_maybe_a_terminal() {
        check(json!({"command": "sh"}), Ok((&["sh"], None)));
        check(
            json!({"command": "cat '/data/a b'", "terminalSize": {"rows": 24, "cols": 80}}),
            Ok((&["cat", "/data/a b"], Some((24, 80)))),
        );
        check(
            json!({"Command": "ls", "TerminalSize": {"Rows": "50", "cols": 132}}),
            Ok((&["ls"], Some((50, 132)))),
        );
        check(
            json!({"command": "ls", "terminalSize": null}),
            Ok((&["ls"], None)),
        );
        check(json!({}), Err("command"));
        check(json!({"command": "  "}), Err("command"));
        check(json!({"command": "echo 'open"}), Err("command"));
        check(json!({"command": ["ls"]}), Err("command"));
        check(
            json!({"command": "x".repeat(MAX_COMMAND_BYTES + 1)}),
            Err("command"),
        );
        check(
            json!({"command": "ls", "terminalSize": {"rows": 0, "cols": 80}}),
            Err("terminalSize.rows"),
        );
        check(
            json!({"command": "ls", "terminalSize": {"rows": 24}}),
            Err("terminalSize.cols"),
        );
        check(
            json!({"command": "ls", "terminalSize": {"rows": 2.5, "cols": 80}}),
            Err("terminalSize.rows"),
        );
        check(
            json!({"command": "ls", "terminalSize": 3}),
            Err("terminalSize"),
        );
        check(json!([1]), Err(""));
    }
}
