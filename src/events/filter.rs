//! The event-type part of the spec's filters (`types`, `not_types`, with `*` wildcards).

use serde_json::Value;

/// A room event filter's `types`/`not_types`.
#[derive(Debug, Default, Clone)]
pub struct TypeFilter {
    pub types: Option<Vec<String>>,
    pub not_types: Vec<String>,
}

impl TypeFilter {
    pub fn from_json(v: Option<&Value>) -> Self {
        let list = |k: &str| {
            v.and_then(|f| f.get(k))
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect::<Vec<_>>())
        };
        Self { types: list("types"), not_types: list("not_types").unwrap_or_default() }
    }

    pub fn allows(&self, kind: &str) -> bool {
        let m = |p: &String| p == kind || (p.ends_with('*') && kind.starts_with(&p[..p.len() - 1]));
        self.types.as_ref().is_none_or(|t| t.iter().any(m)) && !self.not_types.iter().any(m)
    }

    /// Exact types only, for pushing the filter into the query.
    pub fn exact_types(&self) -> Option<Vec<String>> {
        self.types.as_ref().filter(|t| t.iter().all(|p| !p.ends_with('*'))).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wildcards_and_exclusions() {
        let f = TypeFilter::from_json(Some(&json!({"types": ["m.room.*"], "not_types": ["m.room.member"]})));
        assert!(f.allows("m.room.message"));
        assert!(!f.allows("m.room.member"));
        assert!(!f.allows("m.reaction"));
        assert_eq!(f.exact_types(), None);
        assert!(TypeFilter::default().allows("anything"));
    }
}
