//! One module per command: clap arguments next to the function that runs them.
pub mod annotate;
pub mod completion;
pub mod components;
pub mod configurations;
pub mod init;
pub mod invoke;
pub mod list;
pub mod logs;
pub mod mtls;
pub mod publish;
pub mod run;
pub mod status;
pub mod stop;
pub mod uninstall;
pub mod upgrade;
pub mod version;
pub mod workflow;
