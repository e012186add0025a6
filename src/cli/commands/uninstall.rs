//! `dapr uninstall` (not implemented yet).

use crate::cli::Context;

#[derive(Debug, Default, clap::Args)]
pub struct Args {}

pub fn run(_args: Args, _ctx: &Context) -> anyhow::Result<i32> {
    anyhow::bail!("`dapr uninstall` is not implemented yet")
}
