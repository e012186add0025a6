//! `dapr version [-o json]` and the root `dapr -v/--version`: the CLI version and the
//! installed runtime version. The runtime version comes from the file `dapr init` records
//! beside `bin/daprd` (`n/a` when nothing is installed); for a `daprd` installed without
//! that file (by hand) it is read from the binary, which is never run
//! (`DaprHome::runtime_version`).

use crate::cli::Context;
use crate::output::format::INVALID_FORMAT;
use crate::output::{Status, Stream};

#[derive(Debug, Default, clap::Args)]
#[command(
    about = "Print the Dapr runtime and CLI version",
    after_help = "Examples:
  # Version for the Dapr CLI and runtime
  dapr version

  # The same, as JSON
  dapr version --output json

  # Runtime version of an install in a custom location
  dapr version --runtime-path /opt/dapr"
)]
pub struct Args {
    /// The output format of the version information. Valid values are: json
    #[arg(
        short = 'o',
        long = "output",
        value_name = "string",
        default_value = ""
    )]
    pub output: String,
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<i32> {
    let runtime = ctx
        .home()
        .ok()
        .and_then(|h| h.runtime_version())
        .unwrap_or_else(|| "n/a".to_string());
    match args.output.as_str() {
        "" => {
            ctx.printer.data(&format!(
                "CLI version: {} \nRuntime version: {runtime}\n",
                crate::VERSION
            ));
            Ok(0)
        }
        "json" => {
            let v =
                serde_json::json!({ "Cli version": crate::VERSION, "Runtime version": runtime });
            ctx.printer.data_line(&v.to_string());
            Ok(0)
        }
        _ => {
            // On stdout, as the official `version` prints it.
            ctx.printer
                .status_to(Stream::Stdout, Status::Failure, INVALID_FORMAT);
            Ok(1)
        }
    }
}
