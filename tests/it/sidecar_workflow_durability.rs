//! Workflow durability: a workflow of 20 sequential activities (the official Python SDK's
//! worker) whose sidecar and worker are both killed with SIGKILL after activity 10; a new
//! sidecar and worker on the same Redis finish it, and no activity whose result the
//! sidecar had recorded runs again.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::sidecar_api::sidecar::{Daprd, Opts, start, write_component};
use crate::sidecar_grpc::sdk_script;
use crate::support::{self, Redis, wait_until};

fn daprd(redis: &Redis, home: &std::path::Path) -> Daprd {
    let res = home.join("resources");
    write_component(
        &res,
        "statestore",
        "state.redis",
        &[
            ("redisHost", redis.addr().as_str()),
            ("actorStateStore", "true"),
        ],
    );
    start(&Opts::new("durableapp", home).resources(&res))
}

fn worker(d: &Daprd, mode: &str, log: &std::path::Path) -> Command {
    let mut cmd = Command::new("python3");
    support::without_developer_env(&mut cmd)
        .arg(sdk_script("python_workflow_durable.py"))
        .args([mode, log.to_str().unwrap(), "durable-1"])
        .env("DAPR_HTTP_PORT", d.http_port.to_string())
        .env("DAPR_GRPC_PORT", d.grpc_port.to_string());
    cmd
}

/// How many times each step ran.
fn runs(log: &std::path::Path) -> BTreeMap<u32, u32> {
    let mut m = BTreeMap::new();
    for line in std::fs::read_to_string(log).unwrap_or_default().lines() {
        if let Ok(n) = line.trim().parse() {
            *m.entry(n).or_default() += 1;
        }
    }
    m
}

#[test]
fn a_killed_sidecar_and_worker_resume_without_rerunning_completed_activities() {
    let redis = Redis::start();
    let home = tempfile::tempdir().unwrap();
    let log = home.path().join("steps.log");
    let d = daprd(&redis, home.path());
    let mut first = worker(&d, "start", &log)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(30), || runs(&log).len() >= 10),
        "the first ten activities did not run: {:?}\n{}",
        runs(&log),
        d.log()
    );
    d.signal(nix::sys::signal::Signal::SIGKILL);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(first.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let _ = first.wait();
    drop(d);
    let before = runs(&log);
    let last = *before.keys().max().unwrap();
    assert!(last < 20, "killed too late: {before:?}");

    let d = daprd(&redis, home.path());
    let out = worker(&d, "resume", &log).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        d.log()
    );
    // 10 + 20 + ... + 200
    assert_eq!(stdout.trim(), "COMPLETED 2100", "{}", d.log());
    let after = runs(&log);
    assert_eq!(
        after.keys().copied().collect::<Vec<_>>(),
        (1..=20).collect::<Vec<_>>()
    );
    // Only the activity in progress when the sidecar died (its result not recorded yet)
    // may run twice.
    let twice: Vec<u32> = after
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(k, _)| *k)
        .collect();
    assert!(
        twice.iter().all(|k| *k >= last) && twice.len() <= 1 && after.values().all(|n| *n <= 2),
        "completed activities ran again: {after:?} (killed after step {last})"
    );
}
