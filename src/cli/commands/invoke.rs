//! `dapr invoke`: call a method of an app through its local sidecar
//! (`<verb> /v1.0/invoke/<app-id>/method/<method>`) and print the response body.

use crate::cli::Context;
use crate::output::Stream;
use crate::selfhosted::instances;

#[derive(Debug, Default, clap::Args)]
#[command(
    about = "Invoke a method on a given Dapr application. Supported platforms: Self-hosted",
    after_help = "Examples:
  # Invoke a sample method on target app with POST Verb
  dapr invoke --app-id target --method sample --data '{\"key\":\"value\"}'

  # Invoke a sample method on target app with GET Verb
  dapr invoke --app-id target --method sample --verb GET

  # Invoke a sample method on target app with the payload read from a file
  dapr invoke --app-id target --method sample --data-file payload.json

  # Invoke a sample method with extra HTTP headers
  dapr invoke --app-id target --method sample --header x-tenant=blue -H x-trace=on

  # Invoke a method through the sidecar's Unix domain socket
  dapr invoke --app-id target --method sample --unix-domain-socket /tmp"
)]
pub struct Args {
    /// The application id to invoke
    #[arg(short = 'a', long, value_name = "string", required = true)]
    pub app_id: String,
    /// The method to invoke
    #[arg(short = 'm', long, value_name = "string", required = true)]
    pub method: String,
    /// The JSON serialized data string (optional)
    #[arg(short = 'd', long, value_name = "string", default_value = "")]
    pub data: String,
    /// A file containing the JSON serialized data (optional)
    #[arg(short = 'f', long, value_name = "string", default_value = "")]
    pub data_file: String,
    /// The HTTP verb to use
    #[arg(short = 'v', long, value_name = "string", default_value = "POST")]
    pub verb: String,
    /// HTTP headers to be used on invoke
    #[arg(short = 'H', long = "header", value_name = "stringArray")]
    pub header: Vec<String>,
    /// Path to a unix domain socket dir. If specified, Dapr API servers will use Unix Domain Sockets
    #[arg(short = 'u', long, value_name = "string", default_value = "")]
    pub unix_domain_socket: String,
}

/// `key=value` pairs of `--header`. Unlike the official CLI, the value may itself hold `=`
/// (tokens often do); the official messages are kept for the other mistakes.
fn headers(raw: &[String]) -> Result<Vec<(String, String)>, &'static str> {
    raw.iter()
        .map(|h| {
            let (k, v) = h
                .trim()
                .split_once('=')
                .ok_or("Should one \"=\" in HTTP header.")?;
            if k.is_empty() {
                return Err("A header name is required.");
            }
            if v.is_empty() {
                return Err("Value for header name is required.");
            }
            Ok((k.to_string(), v.to_string()))
        })
        .collect()
}

/// The request body from `--data` / `--data-file` (shared with `publish`).
pub fn payload(data: &str, data_file: &str, command: &str) -> Result<Vec<u8>, String> {
    if !data.is_empty() && !data_file.is_empty() {
        return Err(format!(
            "Only one of --data and --data-file allowed in the same {command} command"
        ));
    }
    if data_file.is_empty() {
        return Ok(data.as_bytes().to_vec());
    }
    std::fs::read(data_file).map_err(|e| {
        let err = crate::error::go_style_io("open", std::path::Path::new(data_file), &e);
        format!("Error reading payload from '{data_file}'. Error: {err}")
    })
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<i32> {
    let p = &ctx.printer;
    let body = match payload(&args.data, &args.data_file, "invoke") {
        Ok(b) => b,
        Err(msg) => {
            p.failure(&msg);
            return Ok(1);
        }
    };
    let extra = match headers(&args.header) {
        Ok(h) => h,
        Err(msg) => {
            p.failure(msg);
            return Ok(1);
        }
    };
    if !args.unix_domain_socket.is_empty() {
        p.warning(
            Stream::Stdout,
            "Unix domain sockets are currently a preview feature",
        );
    }
    let id = &args.app_id;
    let Some(sidecar) = instances::find(id) else {
        p.failure(&format!("error invoking app {id}: app ID {id} not found"));
        return Ok(1);
    };
    let sidecar = sidecar.with_socket_dir(&args.unix_domain_socket);
    let path = format!(
        "/v1.0/invoke/{id}/method/{}",
        args.method.trim_start_matches('/')
    );
    let verb = args.verb.to_uppercase();
    let mut hdrs = vec![("Content-Type", "application/json")];
    hdrs.extend(extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let resp = match sidecar.request(
        &verb,
        &path,
        &hdrs,
        &body,
        std::time::Duration::from_secs(300),
    ) {
        Ok(r) => r,
        Err(e) => {
            p.failure(&format!("error invoking app {id}: {e}"));
            return Ok(1);
        }
    };
    if !resp.is_success() {
        // The official line, plus the sidecar's own explanation when the sidecar (not the
        // app) refused the call, e.g. a body over its `--max-body-size`.
        let why = dapr_error_message(&resp.body)
            .map(|m| format!(": {m}"))
            .unwrap_or_default();
        p.failure(&format!(
            "error invoking app {id}: {}{why}",
            resp.status_text()
        ));
        return Ok(1);
    }
    if !resp.body.is_empty() {
        p.data_line(&String::from_utf8_lossy(&resp.body));
    }
    p.success("App invoked successfully");
    Ok(0)
}

/// The message of a Dapr error body (`{"errorCode":"ERR_...","message":"..."}`).
fn dapr_error_message(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get("errorCode")?
        .as_str()?
        .starts_with("ERR_")
        .then_some(())?;
    Some(v.get("message")?.as_str()?.to_string())
}
