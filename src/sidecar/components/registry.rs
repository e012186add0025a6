//! The component registry: one row per component type this daprd can run. Adding a type is
//! one row here (plus its module, and its line in the kind's conformance suite).
//!
//! A type of a category Dapr defines but no row implements (e.g. `crypto.dapr.jwks` while no
//! crypto type is registered) is skipped with a warning so that the official default
//! resources still load; an unknown type in a category that has rows, an unknown category
//! or an unregistered version fails start-up naming the file, the line and the valid values.

use futures_util::future::BoxFuture;

use super::{Category, Instance, bindings, configuration, lock, pubsub, secretstores, state};
use crate::sidecar::resources::{Component, ResourceError};

/// What a constructor knows besides the component.
#[derive(Debug, Clone)]
pub struct Context {
    pub app_id: String,
}

impl Context {
    pub fn new(app_id: &str) -> Context {
        Context {
            app_id: app_id.to_string(),
        }
    }
}

/// One component type.
pub struct Factory {
    /// `spec.type`, e.g. `state.redis`.
    pub component_type: &'static str,
    /// The `spec.version`s accepted.
    pub versions: &'static [&'static str],
    /// Checks the metadata without connecting to anything; errors name the field.
    pub validate: fn(&Component, &Context) -> Result<(), ResourceError>,
    /// Starts the component (connects, opens files, ...). Called after `validate`.
    pub create: fn(Component, Context) -> BoxFuture<'static, Result<Instance, ResourceError>>,
}

impl Factory {
    pub fn category(&self) -> Category {
        Category::of(self.component_type).expect("registered types have a known category")
    }
}

/// Every component type this daprd implements.
pub static FACTORIES: &[Factory] = &[
    Factory {
        component_type: "bindings.cron",
        versions: &["v1"],
        validate: bindings::cron::validate,
        create: bindings::cron::create,
    },
    Factory {
        component_type: "bindings.http",
        versions: &["v1"],
        validate: bindings::http::validate,
        create: bindings::http::create,
    },
    Factory {
        component_type: "bindings.localstorage",
        versions: &["v1"],
        validate: bindings::localstorage::validate,
        create: bindings::localstorage::create,
    },
    Factory {
        component_type: "bindings.postgres",
        versions: &["v1"],
        validate: bindings::postgres::validate,
        create: bindings::postgres::create,
    },
    Factory {
        component_type: "bindings.postgresql",
        versions: &["v1"],
        validate: bindings::postgres::validate,
        create: bindings::postgres::create,
    },
    Factory {
        component_type: "bindings.redis",
        versions: &["v1"],
        validate: bindings::redis::validate,
        create: bindings::redis::create,
    },
    Factory {
        component_type: "configuration.redis",
        versions: &["v1"],
        validate: configuration::redis::validate,
        create: configuration::redis::create,
    },
    Factory {
        component_type: "lock.redis",
        versions: &["v1"],
        validate: lock::redis::validate,
        create: lock::redis::create,
    },
    Factory {
        component_type: "pubsub.in-memory",
        versions: &["v1"],
        validate: pubsub::memory::validate,
        create: pubsub::memory::create,
    },
    Factory {
        component_type: "pubsub.redis",
        versions: &["v1"],
        validate: pubsub::redis::validate,
        create: pubsub::redis::create,
    },
    Factory {
        component_type: "pubsub.sqlite",
        versions: &["v1"],
        validate: pubsub::sqlite::validate,
        create: pubsub::sqlite::create,
    },
    Factory {
        component_type: "secretstores.local.env",
        versions: &["v1"],
        validate: secretstores::env::validate,
        create: secretstores::env::create,
    },
    Factory {
        component_type: "secretstores.local.file",
        versions: &["v1"],
        validate: secretstores::file::validate,
        create: secretstores::file::create,
    },
    Factory {
        component_type: "state.in-memory",
        versions: &["v1"],
        validate: state::memory::validate,
        create: state::memory::create,
    },
    Factory {
        component_type: "state.redis",
        versions: &["v1"],
        validate: state::redis::validate,
        create: state::redis::create,
    },
    Factory {
        component_type: "state.sqlite",
        versions: &["v1"],
        validate: state::sqlite::validate,
        create: state::sqlite::create,
    },
];

/// The row of a type.
pub fn find(component_type: &str) -> Option<&'static Factory> {
    FACTORIES
        .iter()
        .find(|f| f.component_type == component_type)
}

/// The registered types of `category`.
pub fn types_of(category: Category) -> Vec<&'static str> {
    FACTORIES
        .iter()
        .filter(|f| f.category() == category)
        .map(|f| f.component_type)
        .collect()
}

/// The row that runs `c`; `None` when its category has no implementation here yet.
pub fn lookup(c: &Component) -> Result<Option<&'static Factory>, ResourceError> {
    let ty = c.component_type.as_str();
    let Some(category) = Category::of(ty) else {
        let categories: Vec<&str> = Category::ALL.iter().map(|c| c.prefix()).collect();
        return Err(c.field_error(
            "spec.type",
            format!(
                "unknown component type {ty:?}; a type is <category>.<name> with category one \
                 of {}",
                categories.join(", ")
            ),
        ));
    };
    let supported = types_of(category);
    let Some(factory) = find(ty) else {
        if supported.is_empty() {
            return Ok(None);
        }
        return Err(c.field_error(
            "spec.type",
            format!(
                "unknown component type {ty:?}; supported {} types: {}",
                category.prefix(),
                supported.join(", ")
            ),
        ));
    };
    if !factory.versions.contains(&c.version.as_str()) {
        return Err(c.field_error(
            "spec.version",
            format!(
                "{ty} has no version {:?}; valid: {}",
                c.version,
                factory.versions.join(", ")
            ),
        ));
    }
    Ok(Some(factory))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_has_a_known_category_and_a_unique_type() {
        for (i, f) in FACTORIES.iter().enumerate() {
            assert!(
                Category::of(f.component_type).is_some(),
                "{}",
                f.component_type
            );
            assert!(!f.versions.is_empty(), "{}", f.component_type);
            assert!(
                FACTORIES[i + 1..]
                    .iter()
                    .all(|g| g.component_type != f.component_type),
                "{} registered twice",
                f.component_type
            );
        }
    }

    #[test]
    fn lookup_skips_unimplemented_categories_and_refuses_unknown_types() {
        let crypto = Component::new("b", "crypto.dapr.jwks");
        assert!(
            lookup(&Component::new("e", "secretstores.local.env"))
                .unwrap()
                .is_some()
        );
        assert!(lookup(&crypto).unwrap().is_none());
        let e = lookup(&Component::new("s", "state.foo"))
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("state.in-memory, state.redis, state.sqlite"),
            "{e}"
        );
        let e = lookup(&Component::new("b", "banana.split"))
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("banana.split") && e.contains("secretstores"),
            "{e}"
        );
        let mut v2 = Component::new("s", "state.redis");
        v2.version = "v2".into();
        let e = lookup(&v2).err().unwrap().to_string();
        assert!(e.contains("spec.version") && e.contains("valid: v1"), "{e}");
    }
}
