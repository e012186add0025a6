//! Which stream each status line goes to, pinned to the official CLI's (github.com/dapr/cli:
//! `pkg/print`'s callers in `cmd/*.go` and `pkg/standalone`): info, success and pending
//! lines on stdout, failures on stderr, warnings where each official call site puts them
//! (stdout for every command here), and the few official exceptions (`list`'s
//! invalid-format failure, `uninstall`'s invalid-runtime failure, a run file's load
//! failures and everything a run file writes to an app's console, all on stdout). Scripts
//! and the official quickstarts' checks read stdout, so a line on the wrong stream breaks
//! them even though the text is right.
//!
//! Every test drives the real `dapr` (and the real `daprd`) with stdout and stderr read
//! apart (`support::streams`), in a temp HOME/DAPR_RUNTIME_PATH.

use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use crate::support::streams::{Home, Streams, unique};
use crate::support::{KillOnDrop, free_port, wait_until};

const UP: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------- init / uninstall

#[test]
fn init_prints_status_lines_on_stdout_and_failures_on_stderr() {
    let h = Home::bare();
    let o = h.run(&["init"]);
    assert_eq!(o.code, Some(0), "{}", o.show());
    let bin = h.dapr_dir().join("bin");
    for line in [
        "⌛  Making the jump to hyperspace...".to_string(),
        format!("ℹ️  Installing runtime version {}", env!("CARGO_PKG_VERSION")),
        // Two plain lines (`fmt.Printf` in the official CLI).
        format!(
            "\nDapr runtime installed to {}, you may run the following to add it to your path if you want to run daprd directly:\n",
            bin.display()
        ),
        format!("\n    export PATH=$PATH:{}\n", bin.display()),
        "✅  Downloaded binaries and completed components set up.".into(),
        format!("ℹ️  daprd binary has been installed to {}.", bin.display()),
        "ℹ️  No Redis answered at ".into(),
        "ℹ️  No containers were started".into(),
        "✅  Success! Dapr is up and running. To get started, go here: https://docs.dapr.io/getting-started".into(),
    ] {
        o.on_stdout(&line);
    }
    assert_eq!(o.stderr, "", "{}", o.show());

    let o = h.run(&["init"]);
    o.on_stdout(
        "already exists: reinstalling the runtime, keeping existing components and configuration",
    );
    o.on_stdout("ℹ️  Existing components and configuration were kept.");
    assert_eq!(o.stderr, "", "{}", o.show());

    // Its warnings are on stdout too.
    let o = h.run(&["init", "--slim", "--image-registry", "registry.example"]);
    assert_eq!(o.code, Some(0), "{}", o.show());
    o.on_stdout("⚠  Flag --image-registry is a preview feature and is subject to change.");
    assert_eq!(o.stderr, "", "{}", o.show());

    // Failures are on stderr, after the first line on stdout.
    for (args, failure) in [
        (
            &["init", "--container-runtime", "nope"][..],
            "❌  Invalid container runtime. Supported values are docker and podman.\n",
        ),
        (
            &["init", "--image-variant", "alpine"],
            "❌  image variant alpine is not supported\n",
        ),
    ] {
        let o = Home::bare().run(args);
        assert_eq!(o.code, Some(1), "{args:?}: {}", o.show());
        assert_eq!(
            o.stdout, "⌛  Making the jump to hyperspace...\n",
            "{args:?}"
        );
        assert_eq!(o.stderr, failure, "{args:?}");
    }
}

#[test]
fn init_log_as_json_keeps_each_line_on_its_stream() {
    let o = Home::bare().run(&["init", "--log-as-json"]);
    assert_eq!(o.code, Some(0), "{}", o.show());
    assert_eq!(o.stderr, "", "{}", o.show());
    let lines: Vec<&str> = o.stdout.lines().collect();
    let statuses = Streams::json_statuses(&o.stdout);
    assert_eq!(
        statuses.len(),
        lines.len(),
        "every line is one JSON object: {}",
        o.stdout
    );
    assert_eq!(
        statuses.first(),
        Some(&("pending".into(), "Making the jump to hyperspace...".into()))
    );
    assert_eq!(
        statuses.last(),
        Some(&(
            "success".into(),
            "Success! Dapr is up and running. To get started, go here: https://docs.dapr.io/getting-started".into()
        ))
    );
    assert!(
        statuses
            .iter()
            .any(|(s, m)| s == "info" && m.starts_with("Dapr runtime installed to ")),
        "the PATH hint is an info line: {statuses:?}"
    );

    let o = Home::bare().run(&["init", "--log-as-json", "--container-runtime", "nope"]);
    assert_eq!(o.code, Some(1), "{}", o.show());
    assert_eq!(
        Streams::json_statuses(&o.stdout),
        [("pending".into(), "Making the jump to hyperspace...".into())]
    );
    assert_eq!(
        Streams::json_statuses(&o.stderr),
        [(
            "failure".into(),
            "Invalid container runtime. Supported values are docker and podman.".into()
        )]
    );
}

#[test]
fn uninstall_prints_status_lines_and_warnings_on_stdout() {
    let h = Home::bare();
    assert_eq!(h.run(&["init"]).code, Some(0));
    let d = h.dapr_dir();
    let o = h.run(&["uninstall"]);
    assert_eq!(o.code, Some(0), "{}", o.show());
    for line in [
        "ℹ️  Removing Dapr from your machine...".to_string(),
        format!("ℹ️  Removing directory: {}", d.join("bin").display()),
        "⚠  WARNING: dapr_placement container does not exist".into(),
        "⚠  WARNING: dapr_scheduler container does not exist".into(),
        "✅  Dapr has been removed successfully".into(),
    ] {
        o.on_stdout(&line);
    }
    assert_eq!(o.stderr, "", "{}", o.show());

    let o = h.run(&["uninstall", "--all"]);
    for line in [
        format!("⚠  WARNING: {} does not exist", d.join("bin").display()),
        "⚠  WARNING: dapr_redis container does not exist".into(),
        "⚠  WARNING: dapr_zipkin container does not exist".into(),
        format!("ℹ️  Removing directory: {}", d.display()),
    ] {
        o.on_stdout(&line);
    }
    assert_eq!(o.stderr, "", "{}", o.show());

    // The official uninstall prints this one failure on stdout.
    let o = h.run(&["uninstall", "--container-runtime", "nope"]);
    assert_eq!(o.code, Some(1), "{}", o.show());
    o.on_stdout("❌  Invalid container runtime. Supported values are docker and podman.");
    assert_eq!(o.stderr, "", "{}", o.show());

    // A `bin` that cannot be removed as a directory (here: a file): the failure on stderr.
    let h = Home::bare();
    std::fs::create_dir_all(h.dapr_dir()).unwrap();
    std::fs::write(h.dapr_dir().join("bin"), "not a directory").unwrap();
    let o = h.run(&["uninstall"]);
    assert_eq!(o.code, Some(1), "{}", o.show());
    o.on_stdout("ℹ️  Removing Dapr from your machine...");
    o.on_stderr("❌  Error removing Dapr: ");
    assert!(!o.stdout.contains("removed successfully"), "{}", o.show());
}

// ---------------------------------------------------------------- dapr run (one app)

#[test]
fn run_prints_status_lines_on_stdout_and_passes_the_apps_streams_through() {
    let h = Home::installed();
    let id = unique("streams-run");
    // The command line holds `$o`/`$e`, the output `OUT`/`ERR`: each token is on one stream only.
    let o = h.run(&[
        "run",
        "--app-id",
        &id,
        "--",
        "sh",
        "-c",
        "o=OUT e=ERR; echo line-$o; echo line-$e >&2",
    ]);
    assert_eq!(o.code, Some(0), "{}", o.show());
    for line in [
        format!("ℹ️  Starting Dapr with id {id}. HTTP Port: "),
        "ℹ️  Checking if Dapr sidecar is listening on HTTP port ".into(),
        "ℹ️  Checking if Dapr sidecar is listening on GRPC port ".into(),
        "ℹ️  Dapr sidecar is up and running.".into(),
        "ℹ️  Updating metadata for appPID: ".into(),
        "ℹ️  Updating metadata for app command: sh -c o=OUT e=ERR; echo line-$o; echo line-$e >&2"
            .into(),
        "✅  You're up and running! Both Dapr and your app logs will appear here.\n".into(),
        "✅  Exited App successfully".into(),
        "ℹ️  \nterminated signal received: shutting down".into(),
        "✅  Exited Dapr successfully".into(),
    ] {
        o.on_stdout(&line);
    }
    o.on_stdout("line-OUT");
    o.on_stderr("line-ERR");
    o.no_status_on_stderr();
}

#[test]
fn a_running_app_is_listed_invoked_published_to_and_stopped_on_the_official_streams() {
    let h = Home::installed();
    std::fs::write(h.path().join("hello.txt"), "hello from the app").unwrap();
    let id = unique("streams-app");
    let port = free_port().to_string();
    let run = h.start(&[
        "run",
        "--app-id",
        &id,
        "--app-port",
        &port,
        "--",
        "python3",
        "-m",
        "http.server",
        &port,
        "--bind",
        "127.0.0.1",
    ]);
    run.expect_stdout("✅  You're up and running!", UP);
    assert!(
        wait_until(UP, || reqwest::blocking::get(format!(
            "http://127.0.0.1:{port}/hello.txt"
        ))
        .is_ok_and(|r| r.status().is_success())),
        "the app never served: {}",
        run.snapshot().show()
    );

    // list: the document or the table on stdout, nothing else anywhere.
    let o = h.run(&["list", "-o", "json"]);
    assert_eq!((o.code, o.stderr.as_str()), (Some(0), ""), "{}", o.show());
    let rows: Vec<serde_json::Value> = serde_json::from_str(&o.stdout).unwrap();
    assert!(
        rows.iter().any(|r| r["appId"] == id.as_str()),
        "{}",
        o.stdout
    );
    let o = h.run(&["list", "-o", "yaml"]);
    assert_eq!((o.code, o.stderr.as_str()), (Some(0), ""), "{}", o.show());
    assert!(o.stdout.contains(&format!("appId: {id}")), "{}", o.stdout);
    let o = h.run(&["list"]);
    assert_eq!((o.code, o.stderr.as_str()), (Some(0), ""), "{}", o.show());
    assert!(o.stdout.lines().any(|l| l.starts_with(&id)), "{}", o.stdout);

    // invoke: the app's answer and the success line on stdout; a failure on stderr.
    let o = h.run(&[
        "invoke",
        "--app-id",
        &id,
        "--method",
        "hello.txt",
        "--verb",
        "GET",
    ]);
    assert_eq!(o.code, Some(0), "{}", o.show());
    assert_eq!(
        o.stdout,
        "hello from the app\n✅  App invoked successfully\n",
        "{}",
        o.show()
    );
    assert_eq!(o.stderr, "", "{}", o.show());
    let o = h.run(&["invoke", "-a", &id, "-m", "no-such-file", "-v", "GET"]);
    assert_eq!(o.code, Some(1), "{}", o.show());
    assert_eq!(o.stdout, "", "{}", o.show());
    // The reason phrase is the app's (Python says `File not found`).
    assert!(
        o.stderr
            .starts_with(&format!("❌  error invoking app {id}: 404 "))
            && o.stderr.lines().count() == 1,
        "{}",
        o.show()
    );

    // publish through a sidecar without that pub/sub: the URL on stdout (`fmt.Println`),
    // the failure on stderr.
    let o = h.run(&[
        "publish",
        "--publish-app-id",
        &id,
        "--pubsub",
        "pubsub",
        "--topic",
        "orders",
        "--data",
        "{}",
    ]);
    assert_eq!(o.code, Some(1), "{}", o.show());
    assert_eq!(
        o.stdout,
        format!(
            "http://localhost:{}/v1.0/publish/pubsub/orders\n",
            http_port(&h, &id)
        ),
        "{}",
        o.show()
    );
    o.on_stderr("❌  Error publishing topic orders: unexpected status code ");

    // stop: the success on stdout; the run it stopped closes on stdout too.
    let o = h.run(&["stop", "--app-id", &id]);
    assert_eq!(o.code, Some(0), "{}", o.show());
    assert_eq!(
        (o.stdout.as_str(), o.stderr.as_str()),
        (format!("✅  app stopped successfully: {id}\n").as_str(), "")
    );
    let o = run.finish(Duration::from_secs(20));
    assert_eq!(o.code, Some(0), "{}", o.show());
    for line in [
        "ℹ️  \nterminated signal received: shutting down",
        "✅  Exited App successfully",
        "✅  Exited Dapr successfully",
    ] {
        o.on_stdout(line);
    }
    o.no_status_on_stderr();
}

/// The HTTP port `dapr list` reports for `id`.
fn http_port(h: &Home, id: &str) -> u64 {
    let o = h.run(&["list", "-o", "json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&o.stdout).unwrap();
    rows.iter()
        .find(|r| r["appId"] == id)
        .and_then(|r| r["httpPort"].as_u64())
        .unwrap_or_else(|| panic!("{id} not listed: {}", o.show()))
}

#[test]
fn run_failures_go_to_stderr_and_closing_lines_to_stdout() {
    let h = Home::installed();
    let o = h.run(&[
        "run",
        "--app-id",
        &unique("exit3"),
        "--",
        "sh",
        "-c",
        "exit 3",
    ]);
    assert_eq!(o.code, Some(3), "{}", o.show());
    o.on_stderr("❌  The App process exited with error code: 3");
    o.on_stdout("✅  Exited Dapr successfully");

    let o = h.run(&[
        "run",
        "--app-id",
        &unique("killed"),
        "--",
        "sh",
        "-c",
        "kill -KILL $$",
    ]);
    assert_eq!(o.code, Some(1), "{}", o.show());
    o.on_stderr("❌  The App process was terminated by signal: SIGKILL");
    o.on_stdout("✅  Exited Dapr successfully");

    let o = h.run(&[
        "run",
        "--app-id",
        &unique("nocmd"),
        "--",
        "no-such-command-h5s",
    ]);
    assert_eq!(o.code, Some(1), "{}", o.show());
    o.on_stderr("❌  Failed to find command no-such-command-h5s: ");
    o.on_stdout("✅  Start App failed, try to stop Dapr successfully");

    // daprd refusing its components: the failure on stderr.
    let res = h.path().join("bad-resources");
    std::fs::create_dir_all(&res).unwrap();
    std::fs::write(
        res.join("c.yaml"),
        "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: s\nspec:\n  type: state.nope\n  version: v1\n",
    )
    .unwrap();
    let res = res.display().to_string();
    let o = h.run(&[
        "run",
        "--app-id",
        &unique("badres"),
        "--resources-path",
        &res,
        "--",
        "true",
    ]);
    assert_eq!(o.code, Some(1), "{}", o.show());
    o.on_stderr("❌  The daprd process exited with error code: exit status ");
    o.on_stdout("ℹ️  Starting Dapr with id ");

    // Nothing installed: the run ends before anything starts, with only the failure.
    let o = Home::bare().run(&["run", "--app-id", &unique("bare"), "--", "true"]);
    assert_eq!(o.code, Some(1), "{}", o.show());
    assert_eq!(o.stdout, "", "{}", o.show());
    o.on_stderr("❌  error validating resources path \"[");
}

#[test]
fn sidecar_only_run_with_sockets_warns_on_stdout() {
    let h = Home::installed();
    let sockets = tempfile::tempdir().unwrap();
    let id = unique("streams-uds");
    let run = h.start(&[
        "run",
        "--app-id",
        &id,
        "-u",
        sockets.path().to_str().unwrap(),
    ]);
    run.expect_stdout("✅  You're up and running! Dapr logs will appear here.", UP);
    run.term();
    let o = run.finish(Duration::from_secs(20));
    assert_eq!(o.code, Some(0), "{}", o.show());
    for line in [
        // A plain line (`fmt.Println` in the official CLI).
        "\nWARNING: no application command found.\n".to_string(),
        "⚠  Unix domain sockets are currently a preview feature".into(),
        format!("ℹ️  Starting Dapr with id {id}. HTTP Socket: "),
        "ℹ️  Checking if Dapr sidecar is listening on HTTP socket ".into(),
        "ℹ️  Dapr sidecar is up and running.".into(),
        "✅  Exited Dapr successfully".into(),
    ] {
        o.on_stdout(&line);
    }
    o.no_status_on_stderr();
}

#[test]
fn run_log_as_json_keeps_each_status_line_on_its_stream() {
    let h = Home::installed();
    let o = h.run(&[
        "run",
        "--log-as-json",
        "--app-id",
        &unique("streams-json"),
        "--",
        "sh",
        "-c",
        "exit 3",
    ]);
    assert_eq!(o.code, Some(3), "{}", o.show());
    let out = Streams::json_statuses(&o.stdout);
    assert!(
        out.iter()
            .any(|(s, m)| s == "info" && m.starts_with("Starting Dapr with id ")),
        "{out:?}"
    );
    assert!(
        out.contains(&("success".into(), "Exited Dapr successfully".into())),
        "{out:?}"
    );
    assert!(out.iter().all(|(s, _)| s != "failure"), "{out:?}");
    assert_eq!(
        Streams::json_statuses(&o.stderr),
        [(
            "failure".into(),
            "The App process exited with error code: 3".into()
        )]
    );
}

// ---------------------------------------------------------------- dapr run -f

/// Write `text` as `<home>/<name>` and return its path.
fn template(h: &Home, name: &str, text: &str) -> String {
    let p = h.path().join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn run_file_writes_everything_it_shows_to_stdout() {
    let h = Home::installed();
    let (a, b, c) = (unique("rf-a"), unique("rf-b"), unique("rf-c"));
    for dir in ["a", "b", "c"] {
        std::fs::create_dir_all(h.path().join(dir)).unwrap();
    }
    let file = template(
        &h,
        "dapr.yaml",
        &format!(
            "version: 1\napps:\n  - appID: {a}\n    appDirPath: ./a\n    appLogDestination: console\n    daprdLogDestination: console\n    command: [\"sh\", \"-c\", \"o=OUT e=ERR; echo line-$o; echo line-$e >&2; sleep 1000\"]\n  - appID: {b}\n    appDirPath: ./b\n  - appID: {c}\n    appDirPath: ./c\n    appLogDestination: console\n    command: [\"sh\", \"-c\", \"exit 4\"]\n"
        ),
    );
    let run = h.start(&["run", "-f", &file, "--log-level", "debug"]);
    let c_logs = h.path().join("c/.dapr/logs");
    run.expect_stdout(
        &format!("ℹ️  Writing log files to directory : {}", c_logs.display()),
        UP,
    );
    run.expect_stdout(&format!("== APP - {a} == line-ERR"), UP);
    // An app that fails does not end the run; the line goes to its console writer.
    run.expect_stdout(
        "❌  The App process exited with error code: exit status 4",
        UP,
    );
    let o = run.snapshot();
    for line in [
        "⚠  The following flags are ignored when using --run-file and should be configured in the run file instead: log-level".to_string(),
        format!("ℹ️  Validating config and starting app \"{a}\""),
        format!("ℹ️  Started Dapr with app id \"{a}\". HTTP Port: "),
        format!(
            "ℹ️  Writing log files to directory : {}",
            h.path().join("a/.dapr/logs").display()
        ),
        format!("ℹ️  Validating config and starting app \"{b}\""),
        format!("ℹ️  Started Dapr with app id \"{b}\". HTTP Port: "),
        format!("⚠  No application command found for app \"{b}\" present in {file}"),
        // What goes to app a's console writers (its output and the lines about it).
        format!("== APP - {a} == line-OUT"),
        format!("== APP - {a} == line-ERR"),
        "ℹ️  Updating metadata for cliPID: ".into(),
        "✅  You're up and running! Dapr logs will appear here.".into(),
    ] {
        o.on_stdout(&line);
    }
    assert_eq!(o.stderr, "", "{}", o.show());

    let stop = h.run(&["stop", "-f", &file]);
    assert_eq!(stop.code, Some(0), "{}", stop.show());
    assert_eq!(
        (stop.stdout.as_str(), stop.stderr.as_str()),
        ("✅  Dapr and app processes stopped successfully\n", "")
    );
    let o = run.finish(Duration::from_secs(30));
    assert_eq!(o.code, Some(0), "{}", o.show());
    for line in [
        "ℹ️  Received signal to stop Dapr and app processes. Shutting down Dapr and app processes.\n",
        "ℹ️  termination signal received: shutting down",
        "✅  Exited App successfully",
        "✅  Exited Dapr successfully",
        "❌  Error exiting App: exit status 4",
    ] {
        o.on_stdout(line);
    }
    assert_eq!(o.stderr, "", "{}", o.show());
}

#[test]
fn run_file_failures_on_the_official_streams() {
    let h = Home::installed();
    let o = h.run(&["run", "-f", "no/such/dir"]);
    assert_eq!(o.code, Some(1), "{}", o.show());
    assert_eq!(o.stdout, "", "{}", o.show());
    o.on_stderr("❌  Failed to get run file path: ");

    // The official CLI prints these two on stdout.
    let file = template(&h, "noversion.yaml", "apps: []\n");
    let o = h.run(&["run", "-f", &file]);
    assert_eq!(o.code, Some(1), "{}", o.show());
    assert_eq!(
        (o.stdout.as_str(), o.stderr.as_str()),
        (
            "❌  Error getting apps from config file: required field 'version' not found in the provided run template file\n",
            ""
        )
    );
    let empty = template(&h, "empty.yaml", "version: 1\napps: []\n");
    let o = h.run(&["run", "-f", &empty]);
    assert_eq!(o.code, Some(1), "{}", o.show());
    assert_eq!(
        (o.stdout.as_str(), o.stderr.as_str()),
        ("❌  No apps to run\n", "")
    );
    let o = h.run(&["run", "-f", &empty, "--log-as-json"]);
    assert_eq!(
        (Streams::json_statuses(&o.stdout), o.stderr.as_str()),
        (vec![("failure".into(), "No apps to run".into())], "")
    );

    // No daprd installed: the start failure is on stdout (the app's console writer).
    let bare = Home::bare();
    std::fs::create_dir_all(bare.path().join("app")).unwrap();
    let id = unique("rf-nodaprd");
    let file = template(
        &bare,
        "dapr.yaml",
        &format!(
            "version: 1\napps:\n  - appID: {id}\n    appDirPath: ./app\n    resourcesPath: .\n    command: [\"sleep\", \"1000\"]\n"
        ),
    );
    let o = bare.run(&["run", "-f", &file]);
    assert_eq!(o.code, Some(1), "{}", o.show());
    o.on_stdout(&format!(
        "❌  Error starting Dapr and app (\"{id}\"): fork/exec "
    ));
    assert_eq!(o.stderr, "", "{}", o.show());

    // A run config that does not validate: on stderr.
    std::fs::create_dir_all(h.path().join("app")).unwrap();
    let busy = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let id = unique("rf-busy");
    let file = template(
        &h,
        "busy.yaml",
        &format!(
            "version: 1\napps:\n  - appID: {id}\n    appDirPath: ./app\n    daprHTTPPort: {port}\n    command: [\"sleep\", \"1000\"]\n"
        ),
    );
    let o = h.run(&["run", "-f", &file]);
    assert_eq!(o.code, Some(1), "{}", o.show());
    o.on_stdout(&format!("ℹ️  Validating config and starting app \"{id}\""));
    o.on_stderr(&format!(
        "❌  Error validating run config for app \"{id}\" present in {file}: invalid configuration for HTTPPort. Port {port} is not available"
    ));

    // An app that cannot start: the line goes to the app's writers, on the console stdout.
    let id = unique("rf-nocmd");
    let file = template(
        &h,
        "nocmd.yaml",
        &format!(
            "version: 1\napps:\n  - appID: {id}\n    appDirPath: ./app\n    command: [\"\"]\n"
        ),
    );
    let o = h.run(&["run", "-f", &file]);
    assert_eq!(o.code, Some(1), "{}", o.show());
    o.on_stdout(&format!(
        "❌  Error starting Dapr and app (\"{id}\"): exec: no command"
    ));
    // The app's own writers (its log file and, by default, the console) get the cause.
    o.on_stdout("Error starting app process: exec: no command");
    o.no_status_on_stderr();
}

// ---------------------------------------------------------------- stop

#[test]
fn stop_failures_go_to_stderr() {
    let h = Home::bare();
    let nobody = unique("nobody");
    let o = h.run(&["stop", "--app-id", &nobody]);
    assert_eq!(
        o.code,
        Some(0),
        "the official e2e expects exit 0: {}",
        o.show()
    );
    assert_eq!(
        (o.stdout.as_str(), o.stderr.as_str()),
        (
            "",
            format!("❌  failed to stop app id {nobody}: couldn't find app id {nobody}\n").as_str()
        )
    );
    let o = h.run(&["stop", "-f", "no/such/dir"]);
    assert_eq!(o.code, Some(1), "{}", o.show());
    assert_eq!(o.stdout, "", "{}", o.show());
    o.on_stderr("❌  Failed to get run file path: ");
    let file = template(&h, "dapr.yaml", "version: 1\napps: []\n");
    let o = h.run(&["stop", "-f", &file]);
    assert_eq!(o.code, Some(0), "{}", o.show());
    assert_eq!(
        (o.stdout.as_str(), o.stderr.as_str()),
        (
            "",
            format!("❌  Failed to stop Dapr and app processes: couldn't find apps with run file \"{file}\"\n").as_str()
        )
    );
}

// ---------------------------------------------------------------- invoke / publish

#[test]
fn invoke_and_publish_warn_on_stdout_and_fail_on_stderr() {
    let h = Home::bare();
    let nobody = unique("nobody");
    let o = h.run(&["invoke", "-a", &nobody, "-m", "m", "-u", "/tmp"]);
    assert_eq!(o.code, Some(1), "{}", o.show());
    assert_eq!(
        (o.stdout.as_str(), o.stderr.as_str()),
        (
            "⚠  Unix domain sockets are currently a preview feature\n",
            format!("❌  error invoking app {nobody}: app ID {nobody} not found\n").as_str()
        )
    );
    for (args, failure) in [
        (
            &[
                "invoke",
                "-a",
                "x",
                "-m",
                "m",
                "--data",
                "a",
                "--data-file",
                "f",
            ][..],
            "❌  Only one of --data and --data-file allowed in the same invoke command\n",
        ),
        (
            &["invoke", "-a", "x", "-m", "m", "-H", "nokey"],
            "❌  Should one \"=\" in HTTP header.\n",
        ),
        (
            &[
                "publish",
                "-i",
                "x",
                "-p",
                "ps",
                "-t",
                "t",
                "--data",
                "a",
                "--data-file",
                "f",
            ],
            "❌  Only one of --data and --data-file allowed in the same publish command\n",
        ),
        (
            &[
                "invoke",
                "-a",
                "x",
                "-m",
                "m",
                "--data-file",
                "no/such/file",
            ],
            "❌  Error reading payload from 'no/such/file'. Error: open no/such/file: no such file or directory\n",
        ),
        (
            &[
                "publish",
                "-i",
                "x",
                "-p",
                "ps",
                "-t",
                "t",
                "--data-file",
                "no/such/file",
            ],
            "❌  Error reading payload from 'no/such/file'. Error: open no/such/file: no such file or directory\n",
        ),
    ] {
        let o = h.run(args);
        assert_eq!(o.code, Some(1), "{args:?}: {}", o.show());
        assert_eq!(
            (o.stdout.as_str(), o.stderr.as_str()),
            ("", failure),
            "{args:?}"
        );
    }
    let pub_args = ["publish", "-i", &nobody, "-p", "pubsub", "-t", "sample"];
    let o = h.run(&[&pub_args[..], &["--data", "{}", "-u", "/tmp"]].concat());
    assert_eq!(o.code, Some(1), "{}", o.show());
    assert_eq!(
        (o.stdout.as_str(), o.stderr.as_str()),
        (
            "⚠  Unix domain sockets are currently a preview feature\n",
            "❌  Error publishing topic sample: couldn't find a running Dapr instance\n"
        )
    );
    let o = h.run(&[&pub_args[..], &["--metadata", "not a valid JSON"]].concat());
    assert_eq!(o.code, Some(1), "{}", o.show());
    assert_eq!(o.stdout, "", "{}", o.show());
    o.on_stderr("❌  Error parsing metadata as JSON. Error: ");
}

/// A stand-in sidecar that accepts published events and records the last one.
fn sidecar_accepting_events(dir: &Path, app_id: &str, port: u16, received: &Path) -> KillOnDrop {
    crate::support::fake_daprd::FakeDaprd {
        dir,
        app_id,
        http_port: port,
        extended: serde_json::json!({}),
        received: Some(received),
        args: &[],
    }
    .start()
}

#[test]
fn publish_success_is_on_stdout() {
    let h = Home::bare();
    let dir = tempfile::tempdir().unwrap();
    let id = unique("streams-pub");
    let received = dir.path().join("received");
    let _sidecar = sidecar_accepting_events(dir.path(), &id, free_port(), &received);
    let o = h.run(&[
        "publish",
        "--publish-app-id",
        &id,
        "--pubsub",
        "pubsub",
        "--topic",
        "orders",
        "--data",
        r#"{"orderId":1}"#,
    ]);
    assert_eq!(o.code, Some(0), "{}", o.show());
    assert_eq!(
        (o.stdout.as_str(), o.stderr.as_str()),
        ("✅  Event published successfully\n", "")
    );
    assert_eq!(
        std::fs::read_to_string(&received).unwrap(),
        r#"/v1.0/publish/pubsub/orders {"orderId":1}"#
    );
}
