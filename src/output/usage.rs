//! Cobra-style help and usage text, so what users and scripts look for is the official
//! one (`-a, --app-id string   The id ...`): `render` is the usage block printed after
//! `Error: <msg>` on a usage error, `help` the full `--help` page (description, usage,
//! examples, sub-commands, flags). Both are built from the clap tree; flags are sorted by
//! name and zero-value defaults are left out, as cobra does.

use clap::Command;

/// The flag type word cobra prints after a flag: the arg's value name when it is a
/// cobra type word (`string`, `int`, `uint`, `strings`, ...), `string` otherwise.
fn type_word(arg: &clap::Arg) -> Option<String> {
    if !arg.get_action().takes_values() {
        return None;
    }
    let name = arg
        .get_value_names()
        .and_then(|n| n.first())
        .map(|n| n.to_string())
        .unwrap_or_default();
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    {
        Some(name)
    } else {
        Some("string".to_string())
    }
}

fn flag_lines(args: &[&clap::Arg]) -> String {
    let mut rows: Vec<(&str, String, String)> = args
        .iter()
        .filter(|a| a.get_long().is_some() && !a.is_hide_set())
        .map(|a| {
            let long = a.get_long().unwrap_or_default();
            let word = type_word(a);
            let mut left = match a.get_short() {
                Some(s) => format!("  -{s}, --{long}"),
                None => format!("      --{long}"),
            };
            if let Some(t) = &word {
                left.push(' ');
                left.push_str(t);
            }
            let mut help = if long == "help" {
                "Print this help message".to_string()
            } else {
                a.get_help().map(|h| h.to_string()).unwrap_or_default()
            };
            let defaults: Vec<String> = a
                .get_default_values()
                .iter()
                .map(|v| v.to_string_lossy().into_owned())
                .collect();
            let zero = matches!(
                word.as_deref(),
                Some("int" | "uint" | "int32" | "int64" | "uint32" | "uint64" | "float")
            ) && defaults.iter().all(|d| d == "0");
            if word.is_some()
                && !zero
                && !defaults.is_empty()
                && !defaults.iter().all(String::is_empty)
            {
                let d = defaults.join(",");
                if word.as_deref() == Some("string") {
                    help.push_str(&format!(" (default \"{d}\")"));
                } else {
                    help.push_str(&format!(" (default {d})"));
                }
            }
            (long, left, help)
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(b.0));
    let width = rows
        .iter()
        .map(|(_, left, _)| left.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (_, left, help) in rows {
        let pad = width - left.chars().count() + 3;
        out.push_str(&format!("{left}{}{help}\n", " ".repeat(pad)));
    }
    out
}

/// The visible sub-commands of `cmd` with their one-line descriptions, sorted by name.
fn subcommand_lines(cmd: &Command) -> String {
    let mut rows: Vec<(String, String)> = cmd
        .get_subcommands()
        .filter(|c| !c.is_hide_set())
        .map(|c| {
            let about = c.get_about().map(|a| a.to_string()).unwrap_or_default();
            (c.get_name().to_string(), about)
        })
        .collect();
    rows.push(("help".into(), "Help about any command".into()));
    rows.sort();
    rows.dedup_by(|a, b| a.0 == b.0);
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0).max(11);
    rows.iter()
        .map(|(n, a)| format!("  {n:<width$} {a}\n"))
        .collect()
}

/// The full `--help` page of `cmd`, whose full name (e.g. `dapr stop`) is `path`; `globals`
/// are the root's persistent flags (shown as `Global Flags`, or as `Flags` on the root).
pub fn help(cmd: &Command, path: &str, globals: &[&clap::Arg]) -> String {
    let is_root = !path.contains(' ');
    let mut out = String::new();
    let about = cmd
        .get_long_about()
        .or(cmd.get_about())
        .map(|a| a.to_string())
        .unwrap_or_default();
    let about = about.trim_end();
    if !about.is_empty() {
        out.push_str(about);
        out.push_str("\n\n");
    }
    out.push_str(&format!("Usage:\n  {path} [flags]\n"));
    let has_subs = cmd.get_subcommands().any(|c| !c.is_hide_set());
    if has_subs {
        out.push_str(&format!("  {path} [command]\n"));
    }
    if let Some(examples) = cmd.get_after_help() {
        out.push('\n');
        out.push_str(examples.to_string().trim_end());
        out.push('\n');
    }
    if has_subs {
        out.push_str("\nAvailable Commands:\n");
        out.push_str(&subcommand_lines(cmd));
    }
    let help_arg = clap::Arg::new("help")
        .short('h')
        .long("help")
        .action(clap::ArgAction::Help);
    let inherited = inherited_globals(cmd, globals);
    let mut own: Vec<&clap::Arg> = cmd
        .get_arguments()
        .filter(|a| is_root || !a.is_global_set() || is_persistent_here(cmd, a, globals))
        .collect();
    if is_root {
        own.extend(
            globals
                .iter()
                .copied()
                .filter(|g| !cmd.get_arguments().any(|a| a.get_id() == g.get_id())),
        );
    }
    if !own.iter().any(|a| a.get_long() == Some("help")) {
        own.push(&help_arg);
    }
    out.push_str("\nFlags:\n");
    out.push_str(&flag_lines(&own));
    if !is_root && !inherited.is_empty() {
        out.push_str("\nGlobal Flags:\n");
        out.push_str(&flag_lines(&inherited));
    }
    if has_subs {
        out.push_str(&format!(
            "\nUse \"{path} [command] --help\" for more information about a command.\n"
        ));
    }
    out
}

/// The usage block of `cmd`, whose full name (e.g. `dapr stop`) is `path`.
pub fn render(cmd: &Command, path: &str, globals: &[&clap::Arg]) -> String {
    let mut out = String::from("Usage:\n");
    if cmd.has_subcommands() {
        out.push_str(&format!("  {path} [command]\n"));
    } else {
        out.push_str(&format!("  {path} [flags]\n"));
    }
    let help = clap::Arg::new("help")
        .short('h')
        .long("help")
        .action(clap::ArgAction::Help);
    let inherited = inherited_globals(cmd, globals);
    let mut own: Vec<&clap::Arg> = cmd
        .get_arguments()
        .filter(|a| {
            (!a.is_global_set() || is_persistent_here(cmd, a, globals)) && a.get_long().is_some()
        })
        .collect();
    if !own.iter().any(|a| a.get_long() == Some("help")) {
        own.push(&help);
    }
    out.push_str("\nFlags:\n");
    out.push_str(&flag_lines(&own));
    if !inherited.is_empty() {
        out.push_str("\nGlobal Flags:\n");
        out.push_str(&flag_lines(&inherited));
    }
    out
}

/// A persistent flag of a command group other than the root's (e.g. `dapr workflow`'s
/// `--app-id`), shown under `Flags` on the group itself, as cobra does.
fn is_persistent_here(cmd: &Command, a: &clap::Arg, root: &[&clap::Arg]) -> bool {
    a.is_global_set() && cmd.has_subcommands() && !root.iter().any(|g| g.get_id() == a.get_id())
}

/// The flags a command inherits: the root's, and on a group's sub-command the group's
/// persistent flags.
fn inherited_globals<'a>(cmd: &'a Command, root: &[&'a clap::Arg]) -> Vec<&'a clap::Arg> {
    let mut all: Vec<&clap::Arg> = root.to_vec();
    if !cmd.has_subcommands() {
        all.extend(
            cmd.get_arguments()
                .filter(|a| a.is_global_set() && !root.iter().any(|g| g.get_id() == a.get_id())),
        );
    }
    all
}
