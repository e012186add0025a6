//! `dapr publish`: publish an event through a running sidecar
//! (`POST /v1.0/publish/<pubsub>/<topic>[?metadata.k=v]`). A payload that already is a
//! CloudEvent is sent as `application/cloudevents+json` so the sidecar keeps its fields.

use crate::cli::Context;
use crate::output::Stream;
use crate::selfhosted::{client, instances};

#[derive(Debug, Default, clap::Args)]
#[command(
    about = "Publish a pub-sub event. Supported platforms: Self-hosted",
    after_help = "Examples:
  # Publish to sample topic in target pubsub via a publishing app
  dapr publish --publish-app-id myapp --pubsub target --topic sample --data '{\"key\":\"value\"}'

  # Publish the content of a file
  dapr publish --publish-app-id myapp --pubsub target --topic sample --data-file event.json

  # Publish a raw (non CloudEvent) payload
  dapr publish --publish-app-id myapp --pubsub target --topic sample --data 'hello' --metadata '{\"rawPayload\":\"true\"}'

  # Publish through the sidecar's Unix domain socket
  dapr publish --publish-app-id myapp --pubsub target --topic sample --data '{}' --unix-domain-socket /tmp"
)]
pub struct Args {
    /// The ID of the publishing app
    #[arg(short = 'i', long, value_name = "string", required = true)]
    pub publish_app_id: String,
    /// The name of the pub/sub component
    #[arg(short = 'p', long, value_name = "string", required = true)]
    pub pubsub: String,
    /// The topic to be published to
    #[arg(short = 't', long, value_name = "string", required = true)]
    pub topic: String,
    /// The JSON serialized data string (optional)
    #[arg(short = 'd', long, value_name = "string", default_value = "")]
    pub data: String,
    /// A file containing the JSON serialized data (optional)
    #[arg(short = 'f', long, value_name = "string", default_value = "")]
    pub data_file: String,
    /// The JSON serialized publish metadata (optional)
    #[arg(short = 'm', long, value_name = "string", default_value = "")]
    pub metadata: String,
    /// Path to a unix domain socket dir. If specified, Dapr API servers will use Unix Domain Sockets
    #[arg(short = 'u', long, value_name = "string", default_value = "")]
    pub unix_domain_socket: String,
}

/// A JSON object carrying every required CloudEvent attribute plus `data`.
fn is_cloud_event(body: &[u8]) -> bool {
    let Ok(serde_json::Value::Object(m)) = serde_json::from_slice::<serde_json::Value>(body) else {
        return false;
    };
    ["id", "source", "specversion", "type", "data"]
        .iter()
        .all(|k| m.contains_key(*k))
}

/// `?metadata.k=v&...` from the `--metadata` JSON object (keys sorted for stable URLs).
fn metadata_query(metadata: &str) -> Result<String, String> {
    if metadata.trim().is_empty() {
        return Ok(String::new());
    }
    let map: std::collections::BTreeMap<String, serde_json::Value> = serde_json::from_str(metadata)
        .map_err(|e| format!("Error parsing metadata as JSON. Error: {e}"))?;
    let pairs: Vec<String> = map
        .iter()
        .map(|(k, v)| {
            let v = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            format!(
                "metadata.{}={}",
                urlencoding::encode(k),
                urlencoding::encode(&v)
            )
        })
        .collect();
    Ok(if pairs.is_empty() {
        String::new()
    } else {
        format!("?{}", pairs.join("&"))
    })
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<i32> {
    let p = &ctx.printer;
    let topic = &args.topic;
    let body = match super::invoke::payload(&args.data, &args.data_file, "publish") {
        Ok(b) => b,
        Err(msg) => {
            p.failure(&msg);
            return Ok(1);
        }
    };
    if !args.unix_domain_socket.is_empty() {
        p.warning(
            Stream::Stdout,
            "Unix domain sockets are currently a preview feature",
        );
    }
    let query = match metadata_query(&args.metadata) {
        Ok(q) => q,
        Err(msg) => {
            p.failure(&msg);
            return Ok(1);
        }
    };
    let Some(sidecar) = instances::find(&args.publish_app_id) else {
        p.failure(&format!(
            "Error publishing topic {topic}: couldn't find a running Dapr instance"
        ));
        return Ok(1);
    };
    let sidecar = sidecar.with_socket_dir(&args.unix_domain_socket);
    let path = format!(
        "/v1.0/publish/{}/{}{query}",
        urlencoding::encode(&args.pubsub),
        urlencoding::encode(topic)
    );
    let content_type = if is_cloud_event(&body) {
        "application/cloudevents+json"
    } else {
        "application/json"
    };
    let resp = match sidecar.request(
        "POST",
        &path,
        &[("Content-Type", content_type)],
        &body,
        std::time::Duration::from_secs(60),
    ) {
        Ok(r) => r,
        Err(e) => {
            p.failure(&format!("Error publishing topic {topic}: {e}"));
            return Ok(1);
        }
    };
    if !(200..300).contains(&resp.status) {
        let url = match &sidecar.http_target() {
            client::Target::Tcp(port) => format!("http://localhost:{port}{path}"),
            client::Target::Unix(_) => format!("http://unix{path}"),
        };
        // The official CLI prints the URL on its own line (stdout) before the failure.
        p.line(Stream::Stdout, &url);
        let detail = String::from_utf8_lossy(&resp.body).trim().to_string();
        let mut msg = format!(
            "Error publishing topic {topic}: unexpected status code {} on publishing to {topic} in {}",
            resp.status, args.pubsub
        );
        if !detail.is_empty() {
            msg.push_str(&format!(": {detail}"));
        }
        p.failure(&msg);
        return Ok(1);
    }
    p.success("Event published successfully");
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloud_events_are_detected() {
        assert!(is_cloud_event(
            br#"{"id":"1","source":"s","specversion":"1.0","type":"t","data":{}}"#
        ));
        assert!(!is_cloud_event(br#"{"dapr":"is_great"}"#));
    }

    #[test]
    fn metadata_becomes_query_parameters() {
        assert_eq!(
            metadata_query(r#"{"rawPayload":"true"}"#).unwrap(),
            "?metadata.rawPayload=true"
        );
        assert!(
            metadata_query("not a valid JSON")
                .unwrap_err()
                .starts_with("Error parsing metadata as JSON. Error: ")
        );
    }
}
