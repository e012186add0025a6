//! Topic scoping of a pub/sub component, read from its runtime-level metadata as the
//! official runtime does: `allowedTopics` (the only topics anyone may use), `protectedTopics`
//! (topics nobody may use without a scope naming them), and per-app scopes
//! `publishingScopes` / `subscriptionScopes` (`app1=t1,t2;app2=t3`; an app listed with no
//! topics, `app1=`, may use none). Spaces are ignored.

use std::collections::HashMap;

use crate::sidecar::resources::component::Component;

/// What a component allows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicScopes {
    allowed: Vec<String>,
    protected: Vec<String>,
    publishing: HashMap<String, Vec<String>>,
    subscription: HashMap<String, Vec<String>>,
}

/// A comma-separated list without spaces or repeats; empty for an empty value.
fn list(value: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in value.split(',') {
        if !out.iter().any(|o| o == t) {
            out.push(t.to_string());
        }
    }
    out
}

/// `app1=t1,t2;app2=t3` as app → topics (an app named twice gets both lists).
fn per_app(value: &str) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for entry in value.split(';') {
        let Some((app, topics)) = entry.split_once('=') else {
            continue;
        };
        let known = out.entry(app.to_string()).or_default();
        for t in list(topics) {
            if !known.contains(&t) {
                known.push(t);
            }
        }
    }
    out
}

impl TopicScopes {
    pub fn from_component(c: &Component) -> TopicScopes {
        let get = |key: &str| {
            c.meta(key)
                .map(|v| v.replace(' ', ""))
                .filter(|v| !v.is_empty())
        };
        TopicScopes {
            allowed: get("allowedTopics").map(|v| list(&v)).unwrap_or_default(),
            protected: get("protectedTopics").map(|v| list(&v)).unwrap_or_default(),
            publishing: get("publishingScopes")
                .map(|v| per_app(&v))
                .unwrap_or_default(),
            subscription: get("subscriptionScopes")
                .map(|v| per_app(&v))
                .unwrap_or_default(),
        }
    }

    /// Whether `app_id` may publish to `topic`.
    pub fn may_publish(&self, app_id: &str, topic: &str) -> bool {
        self.allows(topic, self.publishing.get(app_id))
    }

    /// Whether `app_id` may subscribe to `topic`.
    pub fn may_subscribe(&self, app_id: &str, topic: &str) -> bool {
        self.allows(topic, self.subscription.get(app_id))
    }

    fn allows(&self, topic: &str, scoped: Option<&Vec<String>>) -> bool {
        if !self.allowed.is_empty() && !self.allowed.iter().any(|t| t == topic) {
            return false;
        }
        let protected = self.protected.iter().any(|t| t == topic);
        match scoped {
            // No scope for this app: only unprotected topics.
            None => !protected,
            Some(topics) => topics.iter().any(|t| t == topic),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(meta: &[(&str, &str)]) -> TopicScopes {
        let mut yaml = String::from(
            "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: p\nspec:\n  type: pubsub.in-memory\n  version: v1\n  metadata:\n",
        );
        for (k, v) in meta {
            yaml.push_str(&format!("  - name: {k}\n    value: \"{v}\"\n"));
        }
        let c = crate::sidecar::resources::components(std::path::Path::new("p.yaml"), &yaml, "a")
            .unwrap()
            .remove(0);
        TopicScopes::from_component(&c)
    }

    #[test]
    fn unscoped_components_allow_everything() {
        let s = scopes(&[]);
        assert!(s.may_publish("a", "t") && s.may_subscribe("a", "t"));
    }

    #[test]
    fn allowed_topics_bound_everyone() {
        let s = scopes(&[("allowedTopics", "t1, t2")]);
        assert!(s.may_publish("a", "t1") && s.may_subscribe("b", "t2"));
        assert!(!s.may_publish("a", "t3") && !s.may_subscribe("a", "t3"));
    }

    #[test]
    fn per_app_scopes() {
        let s = scopes(&[
            ("publishingScopes", "app1=t1;app2=t2,t3;app3="),
            ("subscriptionScopes", "app2=t1"),
        ]);
        assert!(s.may_publish("app1", "t1") && !s.may_publish("app1", "t2"));
        assert!(s.may_publish("app2", "t3"));
        assert!(!s.may_publish("app3", "t1"), "listed with no topics: none");
        assert!(
            s.may_publish("other", "t9"),
            "apps not listed are not limited"
        );
        assert!(s.may_subscribe("app2", "t1") && !s.may_subscribe("app2", "t2"));
        assert!(s.may_subscribe("app1", "t2"));
    }

    #[test]
    fn protected_topics_need_a_scope() {
        let s = scopes(&[
            ("protectedTopics", "secret"),
            ("publishingScopes", "app1=secret"),
        ]);
        assert!(s.may_publish("app1", "secret"));
        assert!(!s.may_publish("app2", "secret") && !s.may_subscribe("app1", "secret"));
        assert!(s.may_publish("app2", "open"));
    }
}
