//! The in-process scheduler of jobs and actor reminders.

pub mod timing;
