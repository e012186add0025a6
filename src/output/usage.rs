//! Cobra-style usage text, printed after `Error: <msg>` on a usage error, so the text
//! users and scripts look for is the official one (`-a, --app-id string   The id ...`).
//! `--help` itself is rendered by clap (with an `Examples:` section); this is only the
//! short usage block that follows an error.

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
    let mut rows: Vec<(String, String)> = args
        .iter()
        .filter(|a| a.get_long().is_some() && !a.is_hide_set())
        .map(|a| {
            let long = a.get_long().unwrap_or_default();
            let mut left = match a.get_short() {
                Some(s) => format!("  -{s}, --{long}"),
                None => format!("      --{long}"),
            };
            if let Some(t) = type_word(a) {
                left.push(' ');
                left.push_str(&t);
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
            if type_word(a).is_some()
                && !defaults.is_empty()
                && !defaults.iter().all(String::is_empty)
            {
                let d = defaults.join(",");
                if type_word(a).as_deref() == Some("string") {
                    help.push_str(&format!(" (default \"{d}\")"));
                } else {
                    help.push_str(&format!(" (default {d})"));
                }
            }
            (long.to_string(), format!("{left}\u{0}{help}"))
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let width = rows
        .iter()
        .map(|(_, l)| l.split('\u{0}').next().unwrap_or("").chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (_, l) in rows {
        let (left, help) = l.split_once('\u{0}').unwrap_or((&l, ""));
        let pad = width - left.chars().count() + 3;
        out.push_str(&format!("{left}{}{help}\n", " ".repeat(pad)));
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
    let mut own: Vec<&clap::Arg> = cmd
        .get_arguments()
        .filter(|a| !a.is_global_set() && a.get_long().is_some())
        .collect();
    if !own.iter().any(|a| a.get_long() == Some("help")) {
        own.push(&help);
    }
    out.push_str("\nFlags:\n");
    out.push_str(&flag_lines(&own));
    if !globals.is_empty() {
        out.push_str("\nGlobal Flags:\n");
        out.push_str(&flag_lines(globals));
    }
    out
}
