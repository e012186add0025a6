//! Self-hosted back end: the install directory, the processes `dapr run` starts, the
//! instances `dapr list` finds, their logs. Never prints: returns data, reports progress
//! through small reporter traits that the commands implement with the `Printer`.

pub mod client;
pub mod init;
pub mod instances;
pub mod logs;
pub mod process;
pub mod run;
pub mod runfile;
pub mod stop;
pub mod uninstall;
