//! `dapr list`: the running sidecars (self-hosted), as a table, JSON or YAML in the
//! official layout. With `-k` the Kubernetes back end lists the pods that carry a `daprd`
//! container (`--namespace`, `-A`, `--kubeconfig`, `--context`).

use crate::cli::Context;
use crate::kubernetes::client::ClusterArgs;
use crate::kubernetes::commands::{self as k8s, ListOptions};
use crate::kubernetes::status;
use crate::output::format::{self, INVALID_FORMAT, OutputFormat};
use crate::output::{Printer, Status, Stream, table};
use crate::selfhosted::instances::{self, Instance};

#[derive(Debug, Default, clap::Args)]
#[command(
    about = "List all Dapr instances. Supported platforms: Kubernetes and self-hosted",
    after_help = "Examples:
  # List Dapr instances in self-hosted mode
  dapr list

  # List Dapr instances as JSON (or yaml, table)
  dapr list -o json

  # List Dapr instances in all namespaces in Kubernetes mode
  dapr list -k -A

  # List Dapr instances in a specific namespace in Kubernetes mode
  dapr list -k --namespace default"
)]
pub struct Args {
    /// List all Dapr pods in a Kubernetes cluster
    #[arg(short = 'k', long)]
    pub kubernetes: bool,
    /// List all Dapr pods in all namespaces
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// List Dapr pods in a specific namespace
    #[arg(long, value_name = "string", default_value = "")]
    pub namespace: String,
    /// The output format of the list. Valid values are: json, yaml, or table (default)
    #[arg(short = 'o', long, value_name = "string", default_value = "")]
    pub output: String,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

const HEADERS: [&str; 14] = [
    "APP ID",
    "HTTP PORT",
    "GRPC PORT",
    "APP PORT",
    "COMMAND",
    "AGE",
    "CREATED",
    "DAPRD PID",
    "CLI PID",
    "APP PID",
    "RUN TEMPLATE PATH",
    "APP LOG PATH",
    "DAPRD LOG PATH",
    "RUNTEMPLATENAME",
];

/// Shorten to 20 characters (17 + `...`), as the official table does.
fn truncate(s: &str) -> String {
    if s.chars().count() > 20 {
        format!("{}...", s.chars().take(17).collect::<String>())
    } else {
        s.to_string()
    }
}

/// The official table for `rows`.
pub fn render_table(rows: &[Instance]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|i| {
            vec![
                i.app_id.clone(),
                i.http_port.to_string(),
                i.grpc_port.to_string(),
                i.app_port.to_string(),
                truncate(&i.command),
                i.age.clone(),
                i.created.clone(),
                i.daprd_pid.to_string(),
                i.cli_pid.to_string(),
                i.app_pid.to_string(),
                i.run_template_path.clone(),
                i.app_log_path.clone(),
                i.daprd_log_path.clone(),
                i.run_template_name.clone(),
            ]
        })
        .collect();
    table::render(&HEADERS, &rows)
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<i32> {
    let Some(fmt) = OutputFormat::parse(&args.output).filter(|_| args.output != "list") else {
        // On stdout, as the official `list` prints this failure.
        ctx.printer
            .status_to(Stream::Stdout, Status::Failure, INVALID_FORMAT);
        return Ok(1);
    };
    let p = match fmt {
        OutputFormat::Table => ctx.printer,
        OutputFormat::Json | OutputFormat::Yaml => ctx.printer.for_document(),
    };
    if args.kubernetes {
        return run_kubernetes(args, fmt, &p);
    }
    let rows = instances::list()?;
    match fmt {
        // A plain line (`fmt.Println` in the official CLI).
        OutputFormat::Table if rows.is_empty() => p.data("No Dapr instances found.\n"),
        OutputFormat::Table => p.data(&render_table(&rows)),
        OutputFormat::Json => p.data(&format::json(&rows)),
        OutputFormat::Yaml => p.data(&format::yaml(&rows)),
    }
    Ok(0)
}

/// `dapr list -k`: without `--namespace` or `-A` a warning (on stderr), then every namespace.
fn run_kubernetes(args: Args, output: OutputFormat, p: &Printer) -> anyhow::Result<i32> {
    let namespace = Some(args.namespace).filter(|n| !n.is_empty());
    if namespace.is_none() && !args.all_namespaces {
        p.warning(Stream::Stderr, k8s::NAMESPACE_WARNING);
    }
    let opts = ListOptions {
        cluster: super::init::cluster_options(&args.cluster),
        namespace: namespace.filter(|_| !args.all_namespaces),
    };
    let rows = k8s::list(&opts, &p.reporter(Stream::Stdout))?;
    match output {
        OutputFormat::Json => p.data(&format::json(&rows)),
        OutputFormat::Yaml => p.data(&format::yaml(&rows)),
        OutputFormat::Table => p.data(&table::render(
            &status::APP_HEADERS,
            &status::table_cells(&rows),
        )),
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_started_daprd_drops_blank_columns() {
        let i = Instance {
            app_id: "x".into(),
            http_port: 3555,
            grpc_port: 4555,
            age: "5s".into(),
            created: "2026-01-02 03:04.05".into(),
            daprd_pid: 42,
            ..Default::default()
        };
        let t = render_table(&[i]);
        let mut lines = t.lines();
        assert_eq!(
            lines.next().unwrap(),
            "APP ID  HTTP PORT  GRPC PORT  APP PORT  AGE  CREATED              DAPRD PID  CLI PID  APP PID  "
        );
        assert_eq!(
            lines.next().unwrap(),
            "x       3555       4555       0         5s   2026-01-02 03:04.05  42         0        0        "
        );
    }

    #[test]
    fn long_commands_are_truncated() {
        assert_eq!(
            truncate("python3 app.py --port 8080"),
            "python3 app.py --..."
        );
        assert_eq!(truncate("node app.js"), "node app.js");
    }
}
