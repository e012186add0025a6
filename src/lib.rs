//! dapr-cli: a Dapr developer toolchain — the `dapr` CLI and the `daprd` sidecar — in one crate.
//!
//! Layering (dependencies point one way, top to bottom):
//!
//! * `cli` — the command layer: one file per command under `cli/commands/`, each holding its
//!   clap arguments next to the function that runs them. Commands orchestrate; they do not do
//!   the work themselves.
//! * `selfhosted` and `kubernetes` — the two back ends the commands drive. They never print:
//!   they return data and report progress through the one `report::Reporter` trait, which
//!   the command layer implements with the printer.
//! * `output` — the only code that writes to the terminal: the printer (data on stdout;
//!   status lines on the stream the official CLI uses for each, decided in the printer:
//!   success/info/pending on stdout, failures on stderr, warnings as each call site says;
//!   stdout holds nothing but the document with `-o json|yaml`), tables, `-o json|yaml`,
//!   the download bar.
//! * `home`, `error`, `manifests`, `report`, `limits` — shared pieces: the install directory,
//!   error types, the embedded assets, the reporter trait and status kinds, process limits.
//! * `sidecar` — `daprd`. It depends on none of the CLI code: config → build (read
//!   resources, start components, bind every port) → run → drain. One protocol-neutral API
//!   per building block (`sidecar::api::universal`) under thin HTTP and gRPC adapters, one
//!   error table; components of every kind behind traits, registered in one place
//!   (`sidecar::components::registry`).
//! * `fuzzing` — the fuzz targets' entry points (`fuzz/`), shared with the stable corpus
//!   replay test; it only calls the public API of the layers above.
pub mod cli;
pub mod error;
pub mod fuzzing;
pub mod home;
pub mod kubernetes;
pub mod limits;
pub mod manifests;
pub mod output;
pub mod report;
pub mod selfhosted;
pub mod sidecar;

/// The version of this toolchain; `dapr` and the `daprd` shipped beside it share it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Embedded in `daprd` (it prints its version from this string) so that the CLI can read
/// the version of an installed `daprd` from the file without running it.
pub const DAPRD_VERSION_MARKER: &str =
    concat!("dapr-cli-daprd-version=", env!("CARGO_PKG_VERSION"), "\n");
