//! The `dapr` CLI entry point: parse, run, print the error once, exit with the code.

use clap::Parser;

fn main() {
    // Go programs raise the soft open-file limit at start-up; `dapr run`'s children inherit it.
    let _ = dapr_cli::limits::raise_open_file_limit();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = match dapr_cli::cli::Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => std::process::exit(dapr_cli::cli::report_parse_error(e, &args)),
    };
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
