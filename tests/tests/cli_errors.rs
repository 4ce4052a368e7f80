//! The `waci` CLI end to end, at its edges: how it finds the platform (flags, env vars, the
//! data dir) and what it says when something is wrong — an API error, a bad flag, no
//! platform running, a delete with no one to confirm it — and the examples in its help.

use waci_tests::*;

#[tokio::test]
async fn delete_asks_first_and_without_a_terminal_needs_yes() {
    let p = TestPlatform::start().await;
    p.waci("container create -g demo -n keep --image waci/hello-cli --restart-policy Never")
        .await
        .ok();
    let refused = p.waci("container delete -g demo -n keep").await.failed();
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    assert_eq!(
        p.get_group("demo", "keep").await.status,
        200,
        "nothing was deleted"
    );
}

#[tokio::test]
async fn the_cli_finds_the_local_platform_through_its_data_dir() {
    let p = TestPlatform::start().await;
    let data_dir = p.data_dir.path().display();
    let rg = run_cli(waci_command(&format!(
        "group create -n found --data-dir {data_dir} --subscription {SUB}"
    )))
    .await
    .ok()
    .json();
    assert_eq!(rg["name"], "found");

    let mut cmd = waci_command("group list --query [].name -o tsv");
    cmd.env("WACI_HOME", p.data_dir.path())
        .env("WACI_SUBSCRIPTION", SUB);
    assert_eq!(run_cli(cmd).await.ok().stdout, "found\n");
}

#[tokio::test]
async fn api_errors_print_the_code_and_message_and_exit_non_zero() {
    let p = TestPlatform::start().await;
    let missing = p.waci("container show -g nowhere -n ghost").await.failed();
    assert!(
        missing.stderr.contains("(ResourceNotFound)")
            && missing.stderr.contains("ghost")
            && missing.stderr.contains("'nowhere'"),
        "{}",
        missing.stderr
    );
    assert!(missing.stdout.is_empty(), "{}", missing.stdout);

    let bad_label = p
        .waci("container create -g demo -n web --image waci/hello-http --dns-name-label Bad_Label")
        .await
        .failed();
    assert!(
        bad_label.stderr.contains("dnsNameLabel"),
        "{}",
        bad_label.stderr
    );

    let bad_image = p
        .waci("container create -g demo -n web --image 'Not A/Valid:Image'")
        .await
        .failed();
    assert!(
        bad_image.stderr.contains("(InvalidImage)"),
        "{}",
        bad_image.stderr
    );
    // A well-formed reference whose pull fails (a container image, or no way to reach its
    // registry) is no bad input: the group is made, and the CLI says why it cannot start.
    let unpullable = p
        .waci("container create -g demo -n web --image nginx")
        .await
        .failed();
    assert!(
        unpullable.stderr.contains("Failed to pull image \"nginx\""),
        "{}",
        unpullable.stderr
    );

    let wrong_token = p
        .waci("container list --token not-the-token")
        .await
        .failed();
    assert!(
        wrong_token.stderr.contains("(InvalidAuthenticationToken)"),
        "{}",
        wrong_token.stderr
    );

    let no_container = p
        .waci("container logs -g nowhere -n ghost --container-name x")
        .await
        .failed();
    assert!(
        no_container.stderr.contains("(ResourceNotFound)"),
        "{}",
        no_container.stderr
    );
}

#[tokio::test]
async fn bad_flags_get_claps_help_and_exit_2() {
    let p = TestPlatform::start().await;
    for line in [
        "container create -g demo -n x --image waci/hello-http --bogus",
        "container create -g demo -n x",
        "container create -g demo -n x --image i --restart-policy Sometimes",
        "container show -n x",
        "container create -g demo --file g.yaml --image waci/hello-http",
    ] {
        let run = p.waci(line).await.failed();
        assert_eq!(run.status.code(), Some(2), "{line}: {}", run.stderr);
        assert!(
            run.stderr.contains("try '--help'"),
            "{line}: {}",
            run.stderr
        );
    }
}

#[tokio::test]
async fn without_a_running_platform_the_error_says_how_to_start_one() {
    // Nothing was ever started with this data dir.
    let empty = tempfile::tempdir().expect("temp dir");
    let line = format!("container list --data-dir {}", empty.path().display());
    let run = run_cli(waci_command(&line)).await.failed();
    assert!(
        run.stderr.contains("waci serve") && run.stderr.contains("endpoints.json"),
        "{}",
        run.stderr
    );

    // A platform that was started and is gone: its endpoints.json is left behind.
    let mut p = TestPlatform::start().await;
    p.kill();
    let line = format!("container list --data-dir {}", p.data_dir.path().display());
    let run = run_cli(waci_command(&line)).await.failed();
    assert!(
        run.stderr
            .contains("no waci platform answers at http://127.0.0.1:")
            && run.stderr.contains("Connection refused")
            && run.stderr.contains("waci serve"),
        "{}",
        run.stderr
    );

    // An endpoint given by hand where nothing listens.
    let port = free_port();
    let line = format!("group list --endpoint http://127.0.0.1:{port} --token t");
    let run = run_cli(waci_command(&line)).await.failed();
    assert!(run.stderr.contains("waci serve"), "{}", run.stderr);
}

#[tokio::test]
async fn the_help_of_every_command_has_an_example() {
    for command in [
        "",
        "serve",
        "container",
        "group",
        "container create",
        "container show",
        "container list",
        "container logs",
        "container delete",
        "container restart",
        "container stop",
        "container start",
        "container export",
        "group create",
        "group show",
        "group list",
        "group delete",
    ] {
        let help = run_cli(waci_command(&format!("{command} --help")))
            .await
            .ok()
            .stdout;
        assert!(
            help.contains("Example") && help.contains("waci "),
            "waci {command} --help:\n{help}"
        );
    }
}

#[tokio::test]
async fn with_a_kubeconfig_context_the_cli_says_what_it_cannot_do_on_a_cluster() {
    // Neither a platform nor a cluster is needed to be refused.
    let restart = run_cli(waci_command(
        "container restart -g demo -n web --context kind-waci",
    ))
    .await
    .failed();
    assert!(
        restart
            .stderr
            .contains("create, show, list, logs and delete only"),
        "{}",
        restart.stderr
    );
    let mut show = waci_command("container show -g demo -n web --context nowhere");
    show.env("KUBECONFIG", "/nonexistent/kubeconfig");
    let show = run_cli(show).await.failed();
    assert!(
        show.stderr.contains("kubeconfig context 'nowhere'"),
        "{}",
        show.stderr
    );
}
