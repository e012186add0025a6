//! The command layer: the clap tree and one file per command under `commands/`.
//! Commands parse their flags, call a back end (`selfhosted` or `kubernetes`) and print
//! through the `Printer`. They hold no business logic of their own.
//!
//! Each command's `Args` carries its `about` and an `Examples:` block (`after_help`).
//! Usage errors are reported the cobra way (`Error: unknown flag: --flag`, then the usage
//! block, exit 255) by `report_parse_error`, so scripts written for the official CLI see
//! the same text and code.

pub mod commands;

use clap::{CommandFactory, Parser, Subcommand};

use crate::home::DaprHome;
use crate::output::Printer;

/// What every command receives: the printer and the root flags.
#[derive(Debug, Clone)]
pub struct Context {
    pub printer: Printer,
    pub runtime_path: Option<String>,
    pub log_as_json: bool,
}

impl Context {
    /// The install directory (`--runtime-path` > `DAPR_RUNTIME_PATH` > `$HOME/.dapr`).
    pub fn home(&self) -> anyhow::Result<DaprHome> {
        Ok(DaprHome::resolve(self.runtime_path.as_deref())?)
    }

    /// Whether a non-blank `--runtime-path` was given (`init -k` and `uninstall -k` refuse it).
    pub fn runtime_path_given(&self) -> bool {
        self.runtime_path
            .as_deref()
            .is_some_and(|s| !s.trim().is_empty())
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "dapr",
    about = "Dapr CLI",
    long_about = "\n\t  __\n\t ____/ /___ _____  _____\n\t/ __  / __ '/ __ \\/ ___/\n   / /_/ / /_/ / /_/ / /\n   \\__,_/\\__,_/ .___/_/\n\t     /_/\n\n===============================\nDistributed Application Runtime",
    disable_version_flag = true
)]
pub struct Cli {
    /// Log output in JSON format
    #[arg(long, global = true)]
    pub log_as_json: bool,
    /// The path to the dapr runtime installation directory
    #[arg(long, global = true, value_name = "PATH")]
    pub runtime_path: Option<String>,
    /// Print the version of the Dapr CLI and runtime
    #[arg(short = 'v', long = "version")]
    pub version: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Init(commands::init::Args),
    Uninstall(commands::uninstall::Args),
    Run(commands::run::Args),
    List(commands::list::Args),
    Stop(commands::stop::Args),
    Logs(commands::logs::Args),
    Invoke(commands::invoke::Args),
    Publish(commands::publish::Args),
    Version(commands::version::Args),
    Completion(commands::completion::Args),
    Status(commands::status::Args),
    Components(commands::components::Args),
    Configurations(commands::configurations::Args),
    Mtls(commands::mtls::Args),
    Upgrade(commands::upgrade::Args),
    Annotate(commands::annotate::Args),
    #[command(visible_alias = "wf", alias = "work")]
    Workflow(commands::workflow::Args),
}

/// The error every `-k` path returns until the Kubernetes back end replaces it.
pub fn kubernetes_not_implemented() -> anyhow::Error {
    anyhow::anyhow!("Kubernetes mode is not implemented yet")
}

/// Exit code of a usage error (cobra's `os.Exit(-1)`).
pub const USAGE_ERROR_EXIT: i32 = 255;

fn context_strings(err: &clap::Error, kind: clap::error::ContextKind) -> Vec<String> {
    use clap::error::ContextValue;
    match err.get(kind) {
        Some(ContextValue::String(s)) => vec![s.clone()],
        Some(ContextValue::Strings(v)) => v.clone(),
        _ => Vec::new(),
    }
}

/// The (built) command at `path` and the root's persistent flags.
fn resolve(path: &[String]) -> (clap::Command, Vec<clap::Arg>) {
    let mut root = Cli::command();
    root.build();
    let globals: Vec<clap::Arg> = root
        .get_arguments()
        .filter(|a| a.is_global_set())
        .cloned()
        .collect();
    let mut cmd = root;
    for name in path {
        if let Some(sub) = cmd.find_subcommand(name).cloned() {
            cmd = sub;
        }
    }
    (cmd, globals)
}

/// The full name of the command at `path`, as cobra prints it (`dapr completion bash`).
fn full_name(path: &[String]) -> String {
    std::iter::once("dapr")
        .chain(path.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The cobra-style `--help` page of the command at `path` (`[]` = the root).
pub fn help_page(path: &[String]) -> String {
    let (cmd, globals) = resolve(path);
    crate::output::usage::help(&cmd, &full_name(path), &globals.iter().collect::<Vec<_>>())
}

/// The subcommand chain named on the command line (`["stop"]`, `["completion", "bash"]`).
fn subcommand_path(args: &[std::ffi::OsString]) -> Vec<String> {
    let mut cmd = Cli::command();
    let mut path = Vec::new();
    for (i, a) in args.iter().enumerate().skip(1) {
        let a = a.to_string_lossy();
        if a == "--" {
            break;
        }
        // `dapr help run` asks for the help of `run`.
        if a.starts_with('-') || (i == 1 && a == "help") {
            continue;
        }
        let Some(sub) = cmd.find_subcommand(a.as_ref()).cloned() else {
            break;
        };
        path.push(sub.get_name().to_string());
        cmd = sub;
    }
    path
}

/// pflag's wording for a flag given without its value (`flag needs an argument: --verb`,
/// `... 'v' in -v`, depending on how it was spelled) or with a value of the wrong type
/// (`invalid argument "abc" for "-p, --app-port" flag: strconv.ParseInt: ...`).
fn flag_value_error(
    err: &clap::Error,
    cmd: &clap::Command,
    args: &[std::ffi::OsString],
) -> Option<String> {
    use clap::error::{ContextKind, ErrorKind};
    let invalid = context_strings(err, ContextKind::InvalidArg);
    let long = invalid
        .first()?
        .strip_prefix("--")?
        .split([' ', '=', '<', '['])
        .next()?
        .to_string();
    let arg = cmd.get_arguments().find(|a| a.get_long() == Some(&long))?;
    let value = context_strings(err, ContextKind::InvalidValue)
        .into_iter()
        .next()
        .unwrap_or_default();
    match err.kind() {
        ErrorKind::InvalidValue if value.is_empty() => {
            let spelled_long = args.iter().any(|a| {
                let a = a.to_string_lossy();
                a == format!("--{long}") || a.starts_with(&format!("--{long}="))
            });
            Some(match arg.get_short() {
                Some(c) if !spelled_long => format!("flag needs an argument: '{c}' in -{c}"),
                _ => format!("flag needs an argument: --{long}"),
            })
        }
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            let parser = match arg.get_value_names()?.first()?.as_str() {
                "int" => "ParseInt",
                "uint" => "ParseUint",
                "bool" => "ParseBool",
                _ => return None,
            };
            let name = match arg.get_short() {
                Some(c) => format!("-{c}, --{long}"),
                None => format!("--{long}"),
            };
            Some(format!(
                "invalid argument \"{value}\" for \"{name}\" flag: strconv.{parser}: parsing \"{value}\": invalid syntax"
            ))
        }
        _ => None,
    }
}

/// Print a clap parse error the way the official CLI does and return the exit code:
/// help and version requests go to stdout (exit 0); usage errors print
/// `Error: <cobra-style message>` and the usage block on stderr (exit 255).
pub fn report_parse_error(err: clap::Error, args: &[std::ffi::OsString]) -> i32 {
    use clap::error::{ContextKind, ErrorKind};
    let printer = Printer::new(args.iter().any(|a| a == "--log-as-json"));
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            printer.help(&help_page(&subcommand_path(args)));
            return 0;
        }
        ErrorKind::DisplayVersion => {
            printer.help(&err.render().to_string());
            return 0;
        }
        _ => {}
    }
    let path = subcommand_path(args);
    let (cmd, globals) = resolve(&path);
    let global_refs: Vec<&clap::Arg> = globals.iter().collect();
    let full = full_name(&path);
    let invalid = context_strings(&err, ContextKind::InvalidArg);
    let first = invalid.first().cloned().unwrap_or_default();
    let msg = match err.kind() {
        ErrorKind::UnknownArgument => {
            if let Some(long) = first.strip_prefix("--") {
                format!("unknown flag: --{}", long.split('=').next().unwrap_or(long))
            } else if let Some(short) = first.strip_prefix('-') {
                let c = short.chars().next().unwrap_or('-');
                format!("unknown shorthand flag: '{c}' in -{short}")
            } else {
                format!("unknown command \"{first}\" for \"{full}\"")
            }
        }
        ErrorKind::InvalidSubcommand => {
            let first = context_strings(&err, ContextKind::InvalidSubcommand)
                .first()
                .cloned()
                .unwrap_or(first);
            format!("unknown command \"{first}\" for \"{full}\"")
        }
        ErrorKind::MissingRequiredArgument => {
            let names: Vec<String> = invalid
                .iter()
                .map(|a| {
                    let n = a.trim_start_matches('-');
                    format!("\"{}\"", n.split([' ', '=', '<', '[']).next().unwrap_or(n))
                })
                .collect();
            format!("required flag(s) {} not set", names.join(", "))
        }
        _ => flag_value_error(&err, &cmd, args).unwrap_or_else(|| {
            let text = err.render().to_string();
            let line = text.lines().next().unwrap_or_default();
            line.strip_prefix("error: ").unwrap_or(line).to_string()
        }),
    };
    let usage = if path.is_empty() {
        format!("Run '{full} --help' for usage.\n")
    } else {
        crate::output::usage::render(&cmd, &full, &global_refs)
    };
    printer.usage_error(&msg, &usage);
    USAGE_ERROR_EXIT
}

/// A command's own error the way cobra reports an error returned by `RunE`: `Error: <msg>`
/// and the command's usage on stderr, then the error again on stdout (the official `main`
/// prints it), exit code 255. `path` names the command (`["workflow", "list"]`).
pub fn report_command_error(path: &[&str], msg: &str, printer: &Printer) -> i32 {
    let path: Vec<String> = path.iter().map(|s| s.to_string()).collect();
    let (cmd, globals) = resolve(&path);
    let global_refs: Vec<&clap::Arg> = globals.iter().collect();
    let usage = crate::output::usage::render(&cmd, &full_name(&path), &global_refs);
    printer.usage_error(msg, &usage);
    printer.data_line(msg);
    USAGE_ERROR_EXIT
}

/// Run the parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> anyhow::Result<i32> {
    let ctx = Context {
        printer: Printer::new(cli.log_as_json),
        runtime_path: cli.runtime_path.clone(),
        log_as_json: cli.log_as_json,
    };
    let Some(command) = cli.command else {
        if cli.version {
            return commands::version::run(commands::version::Args::default(), &ctx);
        }
        ctx.printer.help(&help_page(&[]));
        return Ok(0);
    };
    match command {
        Command::Init(a) => commands::init::run(a, &ctx),
        Command::Uninstall(a) => commands::uninstall::run(a, &ctx),
        Command::Run(a) => commands::run::run(a, &ctx),
        Command::List(a) => commands::list::run(a, &ctx),
        Command::Stop(a) => commands::stop::run(a, &ctx),
        Command::Logs(a) => commands::logs::run(a, &ctx),
        Command::Invoke(a) => commands::invoke::run(a, &ctx),
        Command::Publish(a) => commands::publish::run(a, &ctx),
        Command::Version(a) => commands::version::run(a, &ctx),
        Command::Completion(a) => commands::completion::run(a, &ctx),
        Command::Status(a) => commands::status::run(a, &ctx),
        Command::Components(a) => commands::components::run(a, &ctx),
        Command::Configurations(a) => commands::configurations::run(a, &ctx),
        Command::Mtls(a) => commands::mtls::run(a, &ctx),
        Command::Upgrade(a) => commands::upgrade::run(a, &ctx),
        Command::Annotate(a) => commands::annotate::run(a, &ctx),
        Command::Workflow(a) => commands::workflow::run(a, &ctx),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clap_tree_is_consistent() {
        Cli::command().debug_assert();
    }
}
