//! `dapr publish` end to end (scenario 29 of the reference): `dapr init` with no Redis,
//! `dapr run` of a subscriber app's sidecar, then `dapr publish` through it onto the default
//! `pubsub` component: a JSON file, a CloudEvent file whose attributes the subscriber sees,
//! `--data`, a raw payload (which the app gets base64-encoded in an envelope the sidecar
//! makes, as upstream), and the flag errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::sidecar_pubsub::App;
use crate::support::{self, KillOnDrop, wait_until};

const CLOUDEVENT: &str = r#"{
    "id": "3cc97064-edd1-49f4-b911-c959a7370e68",
    "source": "e2e_test",
    "specversion": "1.0",
    "type": "test.v1",
    "datacontenttype": "application/json",
    "subject": "e2e_subject",
    "data": {"dapr": "is_great"}
}"#;

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn home(&self) -> &Path {
        self.dir.path()
    }

    fn dapr(&self, args: &[&str]) -> Command {
        let mut c = Command::new(support::bin("dapr"));
        support::hermetic(&mut c, self.home())
            .args(args)
            .env("DAPR_RUNTIME_PATH", self.home())
            .env("NO_COLOR", "1")
            .current_dir(self.home())
            .stdin(Stdio::null());
        c
    }

    /// Runs `dapr args` to its end: (exit code, stdout, stderr).
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.dapr(args).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.home().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

#[test]
fn publish_through_a_running_app_onto_the_default_pubsub() {
    let env = Env {
        dir: tempfile::tempdir().unwrap(),
    };
    // No Redis answers: init writes the server-less default pubsub.
    let no_redis = format!("127.0.0.1:{}", support::free_port());
    let out = env
        .dapr(&["init"])
        .env("DAPR_INIT_REDIS_ADDRESS", no_redis)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");

    let app = App::start(
        json!([
            {"pubsubname": "pubsub", "topic": "sample", "route": "/orders"},
            {"pubsubname": "pubsub", "topic": "raw-sample", "route": "/raw",
             "metadata": {"rawPayload": "true"}}
        ]),
        &[],
    );
    let app_id = format!("pub_e2e-{}", std::process::id());
    let log = env.home().join("run.log");
    let mut run = env.dapr(&[
        "run",
        "--app-id",
        &app_id,
        "--app-port",
        &app.port.to_string(),
    ]);
    run.stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(env.home().join("run.err")).unwrap());
    let run = KillOnDrop(run.spawn().unwrap());
    let up = wait_until(Duration::from_secs(30), || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("You're up and running!")
    });
    assert!(up, "{}", std::fs::read_to_string(&log).unwrap_or_default());

    let publish = |extra: &[&str]| {
        let mut args = vec![
            "publish",
            "--publish-app-id",
            app_id.as_str(),
            "--pubsub",
            "pubsub",
        ];
        args.extend_from_slice(extra);
        env.run(&args)
    };
    let ok = |r: (i32, String, String)| {
        assert_eq!(r.0, 0, "{r:?}");
        assert!(r.1.contains("Event published successfully"), "{r:?}");
    };

    // A JSON file: its content is the event's data.
    let message = env.file("message.json", r#"{"dapr": "is_great"}"#);
    ok(publish(&[
        "--topic",
        "sample",
        "--data-file",
        message.to_str().unwrap(),
    ]));
    let got = app.wait_for("/orders", 1, Duration::from_secs(20));
    assert_eq!(got[0].body["data"], json!({"dapr": "is_great"}));
    assert_eq!(got[0].body["topic"], "sample");
    assert_eq!(got[0].body["pubsubname"], "pubsub");

    // A CloudEvent file keeps its attributes.
    let ce = env.file("cloudevent.json", CLOUDEVENT);
    ok(publish(&[
        "--topic",
        "sample",
        "--data-file",
        ce.to_str().unwrap(),
    ]));
    let got = app.wait_for("/orders", 2, Duration::from_secs(20));
    let ev = &got[1].body;
    assert_eq!(ev["id"], "3cc97064-edd1-49f4-b911-c959a7370e68");
    assert_eq!(ev["source"], "e2e_test");
    assert_eq!(ev["type"], "test.v1");
    assert_eq!(ev["subject"], "e2e_subject");
    assert_eq!(ev["datacontenttype"], "application/json");
    assert_eq!(ev["data"], json!({"dapr": "is_great"}));

    // --data.
    ok(publish(&[
        "--topic",
        "sample",
        "--data",
        r#"{"cli": "is_working"}"#,
    ]));
    let got = app.wait_for("/orders", 3, Duration::from_secs(20));
    assert_eq!(got[2].body["data"], json!({"cli": "is_working"}));

    // A raw payload reaches a rawPayload subscription as the bytes published.
    ok(publish(&[
        "--topic",
        "raw-sample",
        "--data",
        r#"{"cli": "is_working"}"#,
        "--metadata",
        r#"{"rawPayload": "true"}"#,
    ]));
    // As upstream, the app gets the raw bytes in `data_base64` of an envelope the sidecar made.
    let got = app.wait_for("/raw", 1, Duration::from_secs(20));
    let raw = got[0].body["data_base64"].as_str().unwrap_or_default();
    use base64::Engine;
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(raw)
            .unwrap(),
        br#"{"cli": "is_working"}"#,
        "{:?}",
        got[0].body
    );
    assert_eq!(got[0].body["datacontenttype"], "application/octet-stream");

    // Flag errors, as the official CLI words them.
    let (code, out, err) = publish(&[
        "--topic",
        "sample",
        "--data-file",
        "a/file/that/does/not/exist",
    ]);
    assert_eq!(code, 1);
    assert!(
        format!("{out}{err}")
            .contains("Error reading payload from 'a/file/that/does/not/exist'. Error: "),
        "{out}{err}"
    );
    let (code, out, err) = publish(&[
        "--topic",
        "sample",
        "--data",
        "{}",
        "--data-file",
        message.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(
        format!("{out}{err}")
            .contains("Only one of --data and --data-file allowed in the same publish command"),
        "{out}{err}"
    );
    let (code, out, err) = publish(&["--topic", "sample", "--metadata", "not a valid JSON"]);
    assert_eq!(code, 1);
    assert!(
        format!("{out}{err}").contains("Error parsing metadata as JSON"),
        "{out}{err}"
    );
    // Nothing more was delivered by the failed commands.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(app.on("/orders").len(), 3);

    let (code, out, err) = env.run(&["stop", "--app-id", &app_id]);
    assert_eq!(code, 0, "{out}{err}");
    drop(run);
}
