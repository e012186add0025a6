//! One module per command: clap arguments next to the function that runs them.
pub mod init;
pub mod uninstall;
pub mod run;
pub mod list;
pub mod stop;
pub mod logs;
pub mod invoke;
pub mod publish;
pub mod version;
pub mod completion;
pub mod status;
pub mod components;
pub mod configurations;
pub mod mtls;
pub mod upgrade;
pub mod annotate;
