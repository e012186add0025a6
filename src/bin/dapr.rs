//! The `dapr` CLI entry point: parse, run, print the error once, exit with the code.

use clap::Parser;

fn main() {
    let cli = dapr_cli::cli::Cli::parse();
    let printer = dapr_cli::output::Printer::new(cli.log_as_json);
    let code = match dapr_cli::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            printer.failure(&format!("{e:#}"));
            1
        }
    };
    std::process::exit(code);
}
