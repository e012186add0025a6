//! `daprd`: parse the command line, run the sidecar, exit with its code. Flag errors are
//! printed once, on stderr, as one line; everything after start-up goes through the logger.

use std::process::ExitCode;

use dapr_cli::sidecar::{config, runtime};

fn main() -> ExitCode {
    match config::from_env() {
        Ok(config::Command::Print(text)) => {
            // `--version`/`--help` output is the product here.
            #[allow(clippy::print_stdout)]
            {
                print!("{text}");
            }
            ExitCode::SUCCESS
        }
        Ok(config::Command::Run(cfg)) => ExitCode::from(runtime::main(*cfg).clamp(0, 255) as u8),
        Err(e) => {
            // The one place flag errors are shown; the logger is not set up yet.
            #[allow(clippy::print_stderr)]
            {
                eprintln!("daprd: error: {e}");
            }
            ExitCode::from(2)
        }
    }
}
