//! `dapr completion bash|zsh|fish|powershell`: shell completion scripts generated from the
//! clap tree by clap_complete. Without a shell it prints its own help, as cobra does.

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Context;

#[derive(Debug, Clone, Copy, clap::Subcommand)]
pub enum Target {
    /// Generates bash completion scripts
    Bash,
    /// Generates zsh completion scripts
    Zsh,
    /// Generates fish completion scripts
    Fish,
    /// Generates powershell completion scripts
    Powershell,
}

#[derive(Debug, Default, clap::Args)]
#[command(
    about = "Generates shell completion scripts",
    after_help = "Examples:
  # Load completions into the current bash session
  source <(dapr completion bash)

  # Install zsh completions (make sure compinit is enabled)
  dapr completion zsh > \"${fpath[1]}/_dapr\"

  # fish
  dapr completion fish > ~/.config/fish/completions/dapr.fish

  # PowerShell
  dapr completion powershell | Out-String | Invoke-Expression"
)]
pub struct Args {
    #[command(subcommand)]
    pub shell: Option<Target>,
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<i32> {
    let Some(target) = args.shell else {
        ctx.printer
            .help(&crate::cli::help_page(&["completion".to_string()]));
        return Ok(0);
    };
    let shell = match target {
        Target::Bash => Shell::Bash,
        Target::Zsh => Shell::Zsh,
        Target::Fish => Shell::Fish,
        Target::Powershell => Shell::PowerShell,
    };
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut crate::cli::Cli::command(), "dapr", &mut script);
    ctx.printer.data(&String::from_utf8_lossy(&script));
    Ok(0)
}
