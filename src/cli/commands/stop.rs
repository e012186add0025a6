//! `dapr stop`: stop apps by id (`--app-id a b ...`) or every app of a run file (`-f`).
//! An unknown app id is reported but is not a failure (the official e2e relies on exit 0);
//! a signal that cannot be delivered is.

use std::path::Path;

use crate::cli::Context;
use crate::selfhosted::{instances, stop};

#[derive(Debug, Default, clap::Args)]
#[command(
    about = "Stop Dapr instances and their associated apps. Supported platforms: Self-hosted",
    after_help = "Examples:
  # Stop a Dapr instance
  dapr stop --app-id myAppID

  # Stop several Dapr instances by app id
  dapr stop --app-id myAppID1 myAppID2

  # Stop every app started from a run file (a file, or a directory holding dapr.yaml)
  dapr stop --run-file dapr.yaml
  dapr stop --run-file /path/to/directory

  # Stop the apps of a run file deployed to Kubernetes
  dapr stop --run-file dapr.yaml -k"
)]
pub struct Args {
    /// The application id to be stopped
    #[arg(short = 'a', long, value_name = "string")]
    pub app_id: Option<String>,
    /// Path to the run template file for the list of apps to stop
    #[arg(short = 'f', long, value_name = "string")]
    pub run_file: Option<String>,
    /// Stop deployments in Kubernetes based on multi-app run file
    #[arg(short = 'k', long)]
    pub kubernetes: bool,
    /// More app ids to stop
    #[arg(value_name = "APP_ID")]
    pub app_ids: Vec<String>,
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<i32> {
    let p = &ctx.printer;
    let mut code = 0;
    if let Some(file) = args.run_file.as_deref().filter(|f| !f.is_empty()) {
        let path = match stop::resolve_run_file(Path::new(file)) {
            Ok(path) => path,
            Err(e) => {
                p.failure(&format!("Failed to get run file path: {e}"));
                return Ok(1);
            }
        };
        if args.kubernetes {
            return Err(crate::cli::kubernetes_not_implemented());
        }
        match stop::stop_run_file(&instances::list()?, &path) {
            Ok(true) => p.success("Dapr and app processes stopped successfully"),
            Ok(false) => p.failure(&format!(
                "Failed to stop Dapr and app processes: couldn't find apps with run file \"{}\"",
                path.display()
            )),
            Err(e) => {
                p.failure(&format!("Failed to stop Dapr and app processes: {e}"));
                code = 1;
            }
        }
    }
    let ids: Vec<String> = args
        .app_id
        .into_iter()
        .chain(args.app_ids)
        .filter(|s| !s.is_empty())
        .collect();
    if ids.is_empty() {
        return Ok(code);
    }
    let mut stopper = stop::Stopper::new(instances::list()?);
    for id in ids {
        match stopper.stop_app(&id) {
            Ok(_) => p.success(&format!("app stopped successfully: {id}")),
            Err(e @ stop::StopError::NotFound(_)) => {
                p.failure(&format!("failed to stop app id {id}: {e}"))
            }
            Err(e) => {
                p.failure(&format!("failed to stop app id {id}: {e}"));
                code = 1;
            }
        }
    }
    Ok(code)
}
