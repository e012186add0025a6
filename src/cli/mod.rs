//! The command layer: the clap tree and one file per command under `commands/`.
//! Commands parse their flags, call a back end (`selfhosted` or `kubernetes`) and print
//! through the `Printer`. They hold no business logic of their own.

pub mod commands;

use clap::{Parser, Subcommand};

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
        use clap::CommandFactory;
        let _ = Cli::command().print_long_help();
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
    }
}
