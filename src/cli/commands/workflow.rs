//! `dapr workflow` (alias `wf`): manage the workflow instances of an app through its
//! sidecar, as the official CLI does: `list`, `run`, `history`, `suspend`, `resume`,
//! `terminate`, `raise-event`, `rerun`, `purge`. `-a/--app-id` names the app; without it
//! the only running sidecar is used. Self-hosted only: `-k` is refused.
//!
//! Errors of the command itself (bad flags, no app, listing or purging failed) are
//! reported the cobra way (`Error: ...`, usage, exit 255); a failed operation of `run`,
//! `suspend`, `resume`, `raise-event`, `rerun` and `terminate` prints `❌  <error>` and
//! exits 1, as upstream.

use crate::cli::{Context, report_command_error};
use crate::output::{Printer, Status, Stream, format, table};
use crate::selfhosted::workflow::{
    self as wf, Filter, WorkflowClient, WorkflowError, history_rows, short_history,
};

#[derive(Debug, clap::Args)]
#[command(
    about = "Workflow management commands. Use -k to target a Kubernetes Dapr cluster.",
    after_help = "Examples:
  # List the workflow instances of an app
  dapr workflow list --app-id myapp

  # Start a workflow
  dapr workflow run MyWorkflow --app-id myapp --input '{\"key\": \"value\"}'

  # Show an instance's history
  dapr workflow history <instance-id> --app-id myapp"
)]
pub struct Args {
    /// Target a Kubernetes dapr installation
    #[arg(short = 'k', long, global = true)]
    pub kubernetes: bool,
    /// Namespace to perform workflow operation on
    #[arg(
        short = 'n',
        long,
        value_name = "string",
        default_value = "default",
        global = true
    )]
    pub namespace: String,
    /// The app ID owner of the workflow instance
    #[arg(short = 'a', long, value_name = "string", global = true)]
    pub app_id: Option<String>,
    #[command(subcommand)]
    pub command: Sub,
}

const STATUSES: [&str; 8] = [
    "RUNNING",
    "COMPLETED",
    "CONTINUED_AS_NEW",
    "FAILED",
    "CANCELED",
    "TERMINATED",
    "PENDING",
    "SUSPENDED",
];

#[derive(Debug, clap::Subcommand)]
pub enum Sub {
    /// List workflows for the given app ID.
    #[command(visible_alias = "ls")]
    List {
        /// Output format. One of short, wide, yaml, json, ids
        #[arg(short = 'o', long, value_name = "string", default_value = "short")]
        output: String,
        /// Filter only the workflows with the given name
        #[arg(short = 'w', long, value_name = "string")]
        filter_name: Option<String>,
        /// Filter only the workflows with the given runtime status. One of RUNNING, COMPLETED, CONTINUED_AS_NEW, FAILED, CANCELED, TERMINATED, PENDING, SUSPENDED
        #[arg(short = 's', long, value_name = "string")]
        filter_status: Option<String>,
        /// Filter only the workflows started within the given duration or timestamp. Examples: 300ms, 1.5h or 2h45m, 2023-01-02T15:04:05 or 2023-01-02
        #[arg(short = 'm', long, value_name = "string")]
        filter_max_age: Option<String>,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Run a workflow instance based on a given workflow name. Accepts a single argument, the workflow name.
    Run {
        name: String,
        /// The target workflow instance ID.
        #[arg(short = 'i', long, value_name = "string")]
        instance_id: Option<String>,
        /// Optional input data for the new workflow instance. Accepts a JSON string.
        #[arg(short = 'x', long, value_name = "string")]
        input: Option<String>,
        /// Optional start time for the workflow in RFC3339 or Go duration string format. If not provided, the workflow starts immediately.
        #[arg(short = 's', long, value_name = "string")]
        start_time: Option<String>,
    },
    /// Get the history of a workflow instance.
    History {
        instance_id: String,
        /// Output format. One of short, wide, yaml, json
        #[arg(short = 'o', long, value_name = "string", default_value = "short")]
        output: String,
    },
    /// Suspend a workflow in progress.
    Suspend {
        instance_id: String,
        /// Reason for suspending the workflow
        #[arg(short = 'r', long, value_name = "string", default_value = "")]
        reason: String,
    },
    /// Resume a workflow that is suspended.
    Resume {
        instance_id: String,
        /// Reason for resuming the workflow
        #[arg(short = 'r', long, value_name = "string", default_value = "")]
        reason: String,
    },
    /// Terminate a workflow in progress.
    Terminate {
        instance_id: String,
        /// Optional output data for the workflow in JSON string format.
        #[arg(short = 'o', long, value_name = "string")]
        output: Option<String>,
    },
    /// Raise an event for a workflow waiting for an external event. Expects a single argument '<instance-id>/<event-name>'.
    RaiseEvent {
        target: String,
        /// Optional input data for the new workflow instance. Accepts a JSON string.
        #[arg(short = 'x', long, value_name = "string")]
        input: Option<String>,
    },
    /// Re-run a workflow instance.
    Rerun {
        instance_id: String,
        /// Optional new ID for the re-run workflow instance. If not provided, a new ID will be generated.
        #[arg(long, value_name = "string")]
        new_instance_id: Option<String>,
        /// The event ID from which to re-run the workflow. If not provided, the workflow will re-run from the beginning.
        #[arg(short = 'e', long, value_name = "uint32", default_value_t = 0)]
        event_id: u32,
        /// Optional input data for the new workflow instance. Accepts a JSON string.
        #[arg(short = 'x', long, value_name = "string")]
        input: Option<String>,
    },
    /// Purge workflow instances with a terminal state.
    Purge {
        instance_ids: Vec<String>,
        /// Purge workflow instances older than the specified Go duration or timestamp, e.g., '24h' or '2023-01-02T15:04:05Z'.
        #[arg(long, value_name = "string", conflicts_with = "all")]
        all_older_than: Option<String>,
        /// Purge all workflow instances in a terminal state. Use with caution.
        #[arg(long)]
        all: bool,
        /// Filter purge to only workflow instances with the given runtime status. Must be used with --all-older-than. One of RUNNING, COMPLETED, CONTINUED_AS_NEW, FAILED, CANCELED, TERMINATED, PENDING, SUSPENDED
        #[arg(long, value_name = "string", conflicts_with = "all")]
        all_filter_status: Option<String>,
        /// Force a purge of a workflow regardless of its current runtime state (can corrupt a workflow being processed).
        #[arg(long)]
        force: bool,
        /// Kubernetes namespace where the scheduler is deployed, only relevant if --kubernetes is set
        #[arg(long, value_name = "string", default_value = "dapr-system")]
        scheduler_namespace: String,
        #[command(flatten)]
        conn: ConnArgs,
    },
}

/// The official CLI's state-store fallback flags; accepted, unused (listing asks the
/// sidecar).
#[derive(Debug, Default, clap::Args)]
pub struct ConnArgs {
    /// The connection string used to connect and authenticate to the actor state store
    #[arg(short = 'c', long, value_name = "string")]
    pub connection_string: Option<String>,
    /// The name of the table or collection which is used as the actor state store
    #[arg(short = 't', long, value_name = "string")]
    pub table_name: Option<String>,
}

/// What ends a subcommand early.
enum Fail {
    /// Reported the cobra way (exit 255).
    Command(String),
    /// `❌  <msg>` on the given stream, exit 1.
    Op(Stream, String),
}

impl From<WorkflowError> for Fail {
    fn from(e: WorkflowError) -> Fail {
        Fail::Command(e.0)
    }
}

fn name(sub: &Sub) -> &'static str {
    match sub {
        Sub::List { .. } => "list",
        Sub::Run { .. } => "run",
        Sub::History { .. } => "history",
        Sub::Suspend { .. } => "suspend",
        Sub::Resume { .. } => "resume",
        Sub::Terminate { .. } => "terminate",
        Sub::RaiseEvent { .. } => "raise-event",
        Sub::Rerun { .. } => "rerun",
        Sub::Purge { .. } => "purge",
    }
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<i32> {
    let sub = name(&args.command);
    Ok(match dispatch(args, &ctx.printer) {
        Ok(()) => 0,
        Err(Fail::Command(msg)) => report_command_error(&["workflow", sub], &msg, &ctx.printer),
        Err(Fail::Op(stream, msg)) => {
            ctx.printer.status_to(stream, Status::Failure, &msg);
            1
        }
    })
}

/// The client of the addressed app, or the failure the command reports.
fn connect(args_app: Option<&str>, op_stream: Option<Stream>) -> Result<WorkflowClient, Fail> {
    let app = wf::app_id(args_app)?;
    WorkflowClient::connect(&app).map_err(|e| match op_stream {
        Some(s) => Fail::Op(s, e.0),
        None => Fail::Command(e.0),
    })
}

fn check_output(output: &str, allowed: &[&str]) -> Result<(), Fail> {
    if allowed.contains(&output) {
        return Ok(());
    }
    Err(Fail::Command(
        "invalid value for --output. Supported values are 'table', 'wide', 'yaml', 'json'.".into(),
    ))
}

fn check_status(flag: &str, status: Option<&str>) -> Result<(), Fail> {
    match status {
        Some(s) if !STATUSES.contains(&s) => Err(Fail::Command(format!(
            "invalid value for --{flag}. Supported values are {}",
            STATUSES.join(", ")
        ))),
        _ => Ok(()),
    }
}

fn dispatch(args: Args, p: &Printer) -> Result<(), Fail> {
    if args.kubernetes {
        return Err(Fail::Command(
            "dapr workflow does not support Kubernetes mode (-k) in this CLI: run it against a self-hosted sidecar (--app-id)".into(),
        ));
    }
    let app = args.app_id.as_deref();
    let ns = args.namespace.as_str();
    let now = chrono::Utc::now();
    match args.command {
        Sub::List {
            output,
            filter_name,
            filter_status,
            filter_max_age,
            conn: _,
        } => {
            check_output(&output, &["short", "wide", "yaml", "json", "ids"])?;
            check_status("filter-status", filter_status.as_deref())?;
            let max_age = filter_max_age
                .map(|m| wf::parse_duration_or_time(&m, true, now))
                .transpose()?;
            let filter = Filter {
                name: filter_name,
                status: filter_status,
                max_age,
                terminal: false,
            };
            let client = connect(app, None)?;
            let rows = wf::list(&client, ns, &filter)?;
            if rows.is_empty() {
                p.failure(&format!(
                    "No workflow found in namespace \"{ns}\" for app ID \"{}\"",
                    client.app_id
                ));
                return Ok(());
            }
            print_list(p, &output, &rows, now);
        }
        Sub::Run {
            name,
            instance_id,
            input,
            start_time,
        } => {
            let start_at = start_time
                .map(|s| wf::parse_duration_or_time(&s, false, now))
                .transpose()?;
            let client = connect(app, Some(Stream::Stdout))?;
            let id = client
                .run(&name, instance_id.as_deref(), input.as_deref(), start_at)
                .map_err(|e| Fail::Op(Stream::Stdout, e.0))?;
            p.info(&format!("Workflow instance started successfully: {id}"));
        }
        Sub::History {
            instance_id,
            output,
        } => {
            check_output(&output, &["short", "wide", "yaml", "json"])?;
            let client = connect(app, None)?;
            let events = client.history(&instance_id)?;
            let rows = history_rows(ns, &client.app_id, events, now);
            print_history(p, &output, &rows);
        }
        Sub::Suspend {
            instance_id,
            reason,
        } => {
            let client = connect(app, Some(Stream::Stdout))?;
            client
                .suspend(&instance_id, &reason)
                .map_err(|e| Fail::Op(Stream::Stdout, e.0))?;
            p.info(&format!("Workflow '{instance_id}' suspended successfully"));
        }
        Sub::Resume {
            instance_id,
            reason,
        } => {
            let client = connect(app, Some(Stream::Stdout))?;
            client
                .resume(&instance_id, &reason)
                .map_err(|e| Fail::Op(Stream::Stdout, e.0))?;
            p.info(&format!("Workflow '{instance_id}' resumed successfully"));
        }
        Sub::Terminate {
            instance_id,
            output,
        } => {
            let client = connect(app, Some(Stream::Stderr))?;
            client
                .terminate(&instance_id, output.as_deref())
                .map_err(|e| Fail::Op(Stream::Stderr, e.0))?;
            p.info(&format!("Workflow '{instance_id}' terminated successfully"));
        }
        Sub::RaiseEvent { target, input } => {
            let parts: Vec<&str> = target.split('/').collect();
            let [instance_id, event] = parts[..] else {
                return Err(Fail::Command(
                    "the argument must be in the format '<instance-id>/<event-name>'".into(),
                ));
            };
            let client = connect(app, Some(Stream::Stdout))?;
            client
                .raise_event(instance_id, event, input.as_deref())
                .map_err(|e| Fail::Op(Stream::Stdout, e.0))?;
            p.info(&format!(
                "Workflow '{instance_id}' raised event '{event}' successfully"
            ));
        }
        Sub::Rerun {
            instance_id,
            new_instance_id,
            event_id,
            input,
        } => {
            let client = connect(app, Some(Stream::Stdout))?;
            let id = client
                .rerun(
                    &instance_id,
                    event_id,
                    new_instance_id.as_deref(),
                    input.as_deref(),
                )
                .map_err(|e| Fail::Op(Stream::Stdout, e.0))?;
            p.info(&format!("Rerunning workflow instance: {id}"));
        }
        Sub::Purge {
            instance_ids,
            all_older_than,
            all,
            all_filter_status,
            force,
            scheduler_namespace: _,
            conn: _,
        } => purge(
            p,
            app,
            ns,
            instance_ids,
            PurgeAll {
                older_than: all_older_than,
                all,
                status: all_filter_status,
            },
            force,
            now,
        )?,
    }
    Ok(())
}

struct PurgeAll {
    older_than: Option<String>,
    all: bool,
    status: Option<String>,
}

fn purge(
    p: &Printer,
    app: Option<&str>,
    ns: &str,
    ids: Vec<String>,
    sel: PurgeAll,
    force: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), Fail> {
    if sel.older_than.is_some() || sel.all {
        if !ids.is_empty() {
            return Err(Fail::Command(
                "no arguments are accepted when using purge all flags".into(),
            ));
        }
    } else {
        if sel.status.is_some() {
            return Err(Fail::Command(
                "--all-filter-status can only be used with --all-older-than".into(),
            ));
        }
        if ids.is_empty() {
            return Err(Fail::Command(
                "one or more workflow instance ID arguments are required when not using purge all flags".into(),
            ));
        }
    }
    check_status("all-filter-status", sel.status.as_deref())?;
    let older_than = sel
        .older_than
        .map(|t| wf::parse_duration_or_time(&t, true, now))
        .transpose()?;
    let client = connect(app, None)?;
    let to_purge: Vec<String> = if ids.is_empty() {
        let filter = Filter {
            terminal: sel.status.is_none(),
            status: sel.status,
            ..Filter::default()
        };
        wf::list(&client, ns, &filter)?
            .into_iter()
            .filter(|w| match older_than {
                Some(t) => w.created_at.is_some_and(|c| c < t),
                None => true,
            })
            .map(|w| w.instance_id)
            .collect()
    } else {
        ids
    };
    p.info(&format!("Purging {} workflow instance(s)", to_purge.len()));
    for id in to_purge {
        client
            .purge(&id, force)
            .map_err(|e| Fail::Command(format!("{id}: {}", e.0)))?;
        p.success(&format!("Purged workflow instance \"{id}\""));
    }
    Ok(())
}

fn print_list(
    p: &Printer,
    output: &str,
    rows: &[wf::WorkflowRow],
    now: chrono::DateTime<chrono::Utc>,
) {
    match output {
        "json" => p.for_document().data(&format::json(rows)),
        "yaml" => p.for_document().data(&format::yaml(rows)),
        "ids" => {
            for r in rows {
                p.data_line(&r.instance_id);
            }
        }
        "wide" => {
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    vec![
                        r.namespace.clone(),
                        r.app_id.clone(),
                        r.name.clone(),
                        r.instance_id.clone(),
                        r.created.clone(),
                        r.last_update.clone(),
                        r.runtime_status.clone(),
                        r.custom_status.clone(),
                        r.failure_message.clone(),
                    ]
                })
                .collect();
            p.data(&table::render(
                &[
                    "NAMESPACE",
                    "APP ID",
                    "Name",
                    "INSTANCE ID",
                    "CREATED",
                    "LAST UPDATE",
                    "STATUS",
                    "CUSTOM STATUS",
                    "FAILURE MESSAGE",
                ],
                &cells,
            ));
        }
        _ => {
            let cells: Vec<Vec<String>> = wf::short_rows(rows, now)
                .into_iter()
                .map(|r| {
                    vec![
                        r.name,
                        r.instance_id,
                        r.runtime_status,
                        r.custom_status,
                        r.age,
                    ]
                })
                .collect();
            p.data(&table::render(
                &["NAME", "ID", "STATUS", "CUSTOM STATUS", "AGE"],
                &cells,
            ));
        }
    }
}

fn print_history(p: &Printer, output: &str, rows: &[wf::HistoryRow]) {
    match output {
        "json" => p.for_document().data(&format::json(rows)),
        "yaml" => p.for_document().data(&format::yaml(rows)),
        "wide" => {
            let opt = |o: &Option<String>| o.clone().unwrap_or_default();
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    vec![
                        r.play.to_string(),
                        r.kind.clone(),
                        opt(&r.name),
                        r.event_id.map(|i| i.to_string()).unwrap_or_default(),
                        r.timestamp.clone(),
                        r.elapsed.clone(),
                        r.status.clone(),
                        opt(&r.details),
                        opt(&r.execution_id),
                        opt(&r.attrs),
                    ]
                })
                .collect();
            p.data(&table::render(
                &[
                    "PLAY",
                    "TYPE",
                    "NAME",
                    "EVENTID",
                    "TIMESTAMP",
                    "ELAPSED",
                    "STATUS",
                    "DETAILS",
                    "EXECUTION_ID",
                    "ATTRS",
                ],
                &cells,
            ));
        }
        _ => {
            let cells: Vec<Vec<String>> = short_history(rows)
                .into_iter()
                .map(|r| vec![r.kind, r.name, r.event_id, r.elapsed, r.status, r.details])
                .collect();
            p.data(&table::render(
                &["TYPE", "NAME", "EVENTID", "ELAPSED", "STATUS", "DETAILS"],
                &cells,
            ));
        }
    }
}
