//! Self-hosted back end: the install directory, the processes `dapr run` starts (`run` and
//! `runfile` say what to run, `supervisor` runs it, `process` is the plumbing), the
//! instances `dapr list` finds, their logs. Never prints: returns data and reports through
//! the `report::Reporter` that the commands implement with the `Printer`.

pub mod client;
pub mod init;
pub mod instances;
pub mod logs;
pub mod process;
pub mod run;
pub mod runfile;
pub mod stop;
pub mod supervisor;
pub mod uninstall;
pub mod workflow;
mod workflow_history;
