//! Exec (DESIGN.md §4): a user runs commands inside a running container's sandbox — files an
//! init container left in an emptyDir, the container's env and nothing of its siblings', a
//! shell on a terminal through `waci container exec` under a pseudo-terminal, the
//! container's own command — and is told clearly when the group does not run.

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;
use waci_tests::cli::CliRun;
use waci_tests::local::waci_bin;
use waci_tests::*;

/// How long an exec may take to show what a test waits for.
const EXEC_TIMEOUT: Duration = Duration::from_secs(60);

/// A running service (`main`, waci/hello-http) with env (one secure), an emptyDir at `/data`
/// that an init container wrote `x.txt` into, and a sibling with a secret of its own.
fn app() -> Value {
    let mount = json!([{"name": "data", "mountPath": "/data"}]);
    json!({"location": "local", "properties": {
        "restartPolicy": "Always",
        "volumes": [{"name": "data", "emptyDir": {}}],
        "initContainers": [{"name": "prep", "properties": {"image": "waci/hello-cli",
            "command": ["hello-cli", "--write", "/data/x.txt", "prepared by init"],
            "volumeMounts": mount}}],
        "containers": [
            {"name": "main", "properties": {"image": "waci/hello-http", "ports": [{"port": 80}],
                "volumeMounts": mount,
                "environmentVariables": [
                    {"name": "GREETING", "value": "hello there"},
                    {"name": "DB_PASSWORD", "secureValue": "main-secret-42"}],
                "resources": {"requests": {"cpu": 0.5, "memoryInGB": 0.25}}}},
            {"name": "sidecar", "properties": {"image": "waci/hello-http", "ports": [{"port": 8080}],
                "environmentVariables": [{"name": "SIDECAR_TOKEN", "secureValue": "sidecar-secret-77"}],
                "resources": {"requests": {"cpu": 0.5, "memoryInGB": 0.25}}}}],
        "ipAddress": {"type": "Public", "ports": [{"port": 80}, {"port": 8080}]}}})
}

async fn running_app(p: &TestPlatform, name: &str) {
    p.create("exec", name, app()).await;
    p.wait_for_state("exec", name, "Running").await;
}

/// `waci container exec` with stdin closed (not a terminal), to its end.
async fn exec_cli(p: &TestPlatform, name: &str, extra: &str) -> CliRun {
    p.waci(&format!("container exec -g exec -n {name} {extra}"))
        .await
}

#[tokio::test]
async fn exec_prints_a_file_an_init_container_wrote_and_exits_with_the_commands_code() {
    let p = TestPlatform::start().await;
    running_app(&p, "files").await;

    let cat = exec_cli(&p, "files", "--exec-command 'cat /data/x.txt'")
        .await
        .ok();
    assert_eq!(cat.stdout, "prepared by init", "{}", cat.stderr);

    let missing = exec_cli(&p, "files", "--exec-command 'cat /data/nope.txt'").await;
    assert_eq!(
        missing.status.code(),
        Some(1),
        "{}{}",
        missing.stdout,
        missing.stderr
    );
    assert!(missing.stdout.contains("nope.txt"), "{}", missing.stdout);

    let code = exec_cli(
        &p,
        "files",
        "--exec-command 'sh -c \"echo made > /data/y.txt; exit 7\"'",
    )
    .await;
    assert_eq!(
        code.status.code(),
        Some(7),
        "{}{}",
        code.stdout,
        code.stderr
    );
    // What exec wrote is in the container's volume: the service itself reads it back.
    let again = exec_cli(&p, "files", "--exec-command 'wc -l /data/y.txt'")
        .await
        .ok();
    assert!(again.stdout.contains("1 /data/y.txt"), "{}", again.stdout);

    // Its output went to the client, not into the container's logs.
    let logs = p.logs("exec", "files", "main").await;
    assert!(!logs.contains("prepared by init"), "{logs}");
}

#[tokio::test]
async fn env_shows_the_containers_own_variables_and_nothing_of_its_sibling_or_the_host() {
    let p = TestPlatform::start().await;
    running_app(&p, "env").await;

    let env = exec_cli(&p, "env", "--container-name main --exec-command env")
        .await
        .ok();
    let lines: Vec<&str> = env.stdout.lines().collect();
    assert!(lines.contains(&"GREETING=hello there"), "{lines:?}");
    assert!(
        lines.contains(&"DB_PASSWORD=main-secret-42"),
        "its own secure value: {lines:?}"
    );
    assert_eq!(
        lines.len(),
        2,
        "nothing but the container's variables: {lines:?}"
    );
    assert!(!env.stdout.contains("sidecar-secret-77"));

    let sidecar = exec_cli(&p, "env", "--container-name sidecar --exec-command env")
        .await
        .ok();
    assert_eq!(sidecar.stdout.trim(), "SIDECAR_TOKEN=sidecar-secret-77");

    // Only its mounts exist: `/` holds the mount point and nothing else, and `..` stops there.
    let root = exec_cli(&p, "env", "--exec-command 'ls /'").await.ok();
    assert_eq!(root.stdout, "data\n");
    let escape = exec_cli(&p, "env", "--exec-command 'cat /data/../../etc/passwd'").await;
    assert_eq!(escape.status.code(), Some(1), "{}", escape.stdout);
    assert!(!escape.stdout.contains("root:"), "{}", escape.stdout);
    let sidecar_root = exec_cli(
        &p,
        "env",
        "--container-name sidecar --exec-command 'ls /data'",
    )
    .await;
    assert_eq!(
        sidecar_root.status.code(),
        Some(1),
        "the sidecar mounts nothing: {}",
        sidecar_root.stdout
    );
}

/// What a reader of a terminal (or a pipe) has seen, and how far it has looked.
struct Screen<R> {
    out: R,
    seen: String,
    /// Where the last thing waited for ended: the next wait looks after it.
    cursor: usize,
}

impl<R: AsyncReadExt + Unpin> Screen<R> {
    fn new(out: R) -> Self {
        Screen {
            out,
            seen: String::new(),
            cursor: 0,
        }
    }

    /// Reads until `needle` shows after the last thing waited for.
    async fn wait_for(&mut self, needle: &str) {
        let wait = async {
            let mut buf = [0u8; 4096];
            loop {
                if let Some(at) = self.seen[self.cursor..].find(needle) {
                    self.cursor += at + needle.len();
                    return;
                }
                let n = self.out.read(&mut buf).await.expect("reading the terminal");
                assert!(n > 0, "closed before {needle:?} showed:\n{}", self.seen);
                self.seen.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        };
        if tokio::time::timeout(EXEC_TIMEOUT, wait).await.is_err() {
            panic!(
                "{needle:?} did not show within {EXEC_TIMEOUT:?}:\n{}",
                self.seen
            );
        }
    }
}

#[tokio::test]
async fn an_interactive_shell_on_a_terminal_lists_a_directory_and_exits() {
    let p = TestPlatform::start().await;
    running_app(&p, "shell").await;

    // util-linux's `script` gives the real CLI a pseudo-terminal, as a user's terminal would.
    let waci = waci_bin();
    let line = shlex::try_join([
        waci.to_str().expect("a UTF-8 path"),
        "container",
        "exec",
        "-g",
        "exec",
        "-n",
        "shell",
        "--exec-command",
        "sh",
    ])
    .expect("quotable");
    let mut cmd = tokio::process::Command::new("script");
    cmd.args(["-qfec", &line, "/dev/null"])
        .env("SHELL", "/bin/sh")
        .env("WACI_ENDPOINT", &p.api)
        .env("WACI_TOKEN", &p.token)
        .env("WACI_SUBSCRIPTION", waci_tests::platform::SUB)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().expect("script starts");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut screen = Screen::new(child.stdout.take().expect("stdout"));

    screen.wait_for("/data $ ").await;
    // Typed as a user types: a typo taken back with backspace, then Enter.
    stdin.write_all(b"ls -l /dx\x7fata\r").await.unwrap();
    screen.wait_for("x.txt").await;
    let seen = &screen.seen;
    assert!(
        seen.contains("ls -l /dx\x08 \x08ata\r\n"),
        "the line is echoed as it is edited:\n{seen:?}"
    );
    screen.wait_for("/data $ ").await;
    stdin.write_all(b"cd / ; pwd ; exit 3\r").await.unwrap();
    let status = tokio::time::timeout(EXEC_TIMEOUT, child.wait())
        .await
        .expect("the session ends after exit")
        .expect("script exits");
    let mut rest = String::new();
    let _ = screen.out.read_to_string(&mut rest).await;
    let seen = screen.seen + &rest;
    assert_eq!(
        status.code(),
        Some(3),
        "the CLI exits with the shell's code:\n{seen}"
    );
    assert!(seen.contains("\r\n/\r\n"), "{seen}");
    assert!(
        seen.contains("16 x.txt\r\n"),
        "a terminal's line ends:\n{seen}"
    );
}

#[tokio::test]
async fn the_exec_socket_speaks_acis_protocol_and_runs_the_containers_own_command() {
    let p = TestPlatform::start().await;
    // A command container that keeps running, so its own image can be run beside it.
    let body = group_body(
        "waci/hello-cli",
        &[],
        "Never",
        &["hello-cli", "--lines", "600", "--interval-ms", "100"],
    );
    p.create("exec", "job", body).await;
    p.wait_for_state("exec", "job", "Running").await;
    let path = format!(
        "{}/containers/main/exec",
        TestPlatform::group_path("exec", "job")
    );

    // The container's own argv[0] runs its own image, with the words as its arguments.
    let session = p
        .call(
            "POST",
            &path,
            Some(json!({"command": "hello-cli --exit 5"})),
        )
        .await;
    assert_eq!(session.status, 200, "{}", session.text);
    let uri = session.body["webSocketUri"].as_str().expect("webSocketUri");
    let password = session.body["password"].as_str().expect("password");
    let (mut socket, _) = tokio_tungstenite::connect_async(uri)
        .await
        .expect("the socket opens");
    socket.send(Message::text(password)).await.unwrap();
    let (output, reason) = read_to_close(&mut socket).await;
    assert!(output.contains("hello from waci/hello-cli"), "{output}");
    assert!(output.contains("arg[1]=--exit"), "{output}");
    assert_eq!(reason, "exit code 5", "{output}");

    // Without a terminal, input goes through untouched and an empty message ends it.
    let session = p
        .call("POST", &path, Some(json!({"command": "wc -l"})))
        .await;
    let uri = session.body["webSocketUri"].as_str().expect("webSocketUri");
    let (mut socket, _) = tokio_tungstenite::connect_async(uri).await.unwrap();
    let password = session.body["password"].as_str().unwrap();
    socket.send(Message::text(password)).await.unwrap();
    socket
        .send(Message::binary(b"one\ntwo\nthree\n".to_vec()))
        .await
        .unwrap();
    socket.send(Message::binary(Vec::new())).await.unwrap();
    let (output, reason) = read_to_close(&mut socket).await;
    assert_eq!((output.trim(), reason.as_str()), ("3", "exit code 0"));

    // On a terminal, a line goes when Enter is typed, and Ctrl-C interrupts the command.
    let terminal = json!({"command": "cat", "terminalSize": {"rows": 24, "cols": 80}});
    let session = p.call("POST", &path, Some(terminal)).await;
    let uri = session.body["webSocketUri"].as_str().expect("webSocketUri");
    let (mut socket, _) = tokio_tungstenite::connect_async(uri).await.unwrap();
    let password = session.body["password"].as_str().unwrap();
    socket.send(Message::text(password)).await.unwrap();
    socket.send(Message::text("hello\r")).await.unwrap();
    let mut echoed = String::new();
    while echoed.matches("hello\r\n").count() < 2 {
        match tokio::time::timeout(EXEC_TIMEOUT, socket.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => echoed.push_str(&t),
            other => panic!("the echo and cat's line did not come: {other:?} after {echoed:?}"),
        }
    }
    socket.send(Message::text("\u{3}")).await.unwrap();
    let (output, reason) = read_to_close(&mut socket).await;
    assert_eq!(reason, "exit code 130 (Interrupted)", "{echoed}{output}");

    // A wrong password closes the socket before anything runs; a session is used once.
    let session = p.call("POST", &path, Some(json!({"command": "sh"}))).await;
    let uri = session.body["webSocketUri"].as_str().expect("webSocketUri");
    let (mut socket, _) = tokio_tungstenite::connect_async(uri).await.unwrap();
    socket
        .send(Message::text("not-the-password"))
        .await
        .unwrap();
    let (output, reason) = read_to_close(&mut socket).await;
    assert_eq!((output.as_str(), reason.as_str()), ("", ""));
    assert!(
        tokio_tungstenite::connect_async(uri).await.is_err(),
        "a session is used once"
    );
}

/// Everything the socket says until it closes, and the close reason.
async fn read_to_close(
    socket: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> (String, String) {
    let mut output = String::new();
    let read = async {
        while let Some(msg) = socket.next().await {
            match msg {
                Ok(Message::Text(t)) => output.push_str(&t),
                Ok(Message::Binary(b)) => output.push_str(&String::from_utf8_lossy(&b)),
                Ok(Message::Close(frame)) => {
                    return frame.map(|f| f.reason.to_string()).unwrap_or_default();
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        String::new()
    };
    let reason = tokio::time::timeout(EXEC_TIMEOUT, read)
        .await
        .expect("the exec socket closes when the command ends");
    (output, reason)
}

#[tokio::test]
async fn exec_into_a_stopped_group_answers_409_and_bad_requests_400() {
    let p = TestPlatform::start().await;
    running_app(&p, "stopped").await;
    let path = format!(
        "{}/containers/main/exec",
        TestPlatform::group_path("exec", "stopped")
    );

    for (body, field) in [
        (json!({}), "command"),
        (json!({"command": ""}), "command"),
        (json!({"command": "cat 'open"}), "command"),
        (
            json!({"command": "sh", "terminalSize": {"rows": 0, "cols": 80}}),
            "terminalSize.rows",
        ),
    ] {
        let r = p.call("POST", &path, Some(body.clone())).await;
        assert_eq!(r.status, 400, "{body}: {}", r.text);
        assert_eq!(
            r.body["error"]["code"], "InvalidRequestContent",
            "{}",
            r.text
        );
        assert!(
            r.body["error"]["message"].as_str().unwrap().contains(field),
            "{}",
            r.text
        );
    }
    let unknown = format!(
        "{}/containers/nope/exec",
        TestPlatform::group_path("exec", "stopped")
    );
    let r = p
        .call("POST", &unknown, Some(json!({"command": "sh"})))
        .await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (404, Some("ContainerNotFound"))
    );

    // A shell left open ends when its group stops: exec never outlives the group.
    let mut open = p.cli("container exec -g exec -n stopped --exec-command sh");
    open.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut shell = open.spawn().expect("the CLI starts");
    let mut shell_in = shell.stdin.take().expect("stdin");
    shell_in.write_all(b"echo ready\n").await.unwrap();
    Screen::new(shell.stdout.take().expect("stdout"))
        .wait_for("ready")
        .await;

    p.waci("container stop -g exec -n stopped").await.ok();
    let status = tokio::time::timeout(EXEC_TIMEOUT, shell.wait())
        .await
        .expect("the shell ends with its group")
        .unwrap();
    assert_eq!(status.code(), Some(143), "ended by the stop");
    drop(shell_in);

    let r = p
        .call("POST", &path, Some(json!({"command": "ls /data"})))
        .await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.body["error"]["code"], "ContainerNotRunning");
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("'main'") && message.contains("'stopped'") && message.contains("Stopped"),
        "{message}"
    );
    let cli = exec_cli(&p, "stopped", "--exec-command 'ls /data'")
        .await
        .failed();
    assert!(cli.stderr.contains("Stopped"), "{}", cli.stderr);
}
