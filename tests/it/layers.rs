//! The layer rule of docs/architecture.md, checked on the sources: api -> service -> actors /
//! store / events / federation, no handler reaching into another handler's module, and the
//! binaries calling services rather than the store. A path that runs upwards fails here.

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every source file under `src/` as (path relative to `src/`, text without comments).
fn files() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut paths = Vec::new();
    sources(&src, &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let code: Vec<&str> = text.lines().filter(|l| !l.trim_start().starts_with("//")).collect();
            (p.strip_prefix(&src).unwrap().to_string_lossy().replace('\\', "/"), code.join("\n"))
        })
        .collect()
}

/// A line without the text of its string literals (a log filter may name a module).
fn without_strings(line: &str) -> String {
    let (mut out, mut in_string, mut escaped) = (String::new(), false, false);
    for ch in line.chars() {
        match (in_string, ch) {
            (true, _) if escaped => escaped = false,
            (true, '\\') => escaped = true,
            (_, '"') => in_string = !in_string,
            (false, c) => out.push(c),
            _ => {}
        }
    }
    out
}

/// The references of `text` to any of `paths` (e.g. `crate::api`), as offending lines.
fn references(text: &str, paths: &[&str]) -> Vec<String> {
    text.lines()
        .filter(|l| {
            let code = without_strings(l);
            paths.iter().any(|p| code.contains(&format!("{p}::")) || code.contains(&format!("{p};")) || code.contains(&format!("{p},")))
        })
        .map(|l| l.trim().to_owned())
        .collect()
}

#[test]
fn no_layer_reaches_upwards() {
    let rules: &[(&str, &[&str])] = &[
        // Handlers reach actors and the store only through services.
        ("api/", &["crate::store", "crate::actors"]),
        ("service/", &["crate::api"]),
        ("actors/", &["crate::api", "crate::service"]),
        ("store/", &["crate::api", "crate::service", "crate::actors", "crate::federation"]),
        ("events/", &["crate::api", "crate::service", "crate::actors", "crate::store", "crate::federation"]),
        ("federation/", &["crate::api", "crate::service"]),
        ("auth/", &["crate::api", "crate::service"]),
        ("bin/", &["ensemble::store", "ensemble::actors"]),
        ("main.rs", &["ensemble::store", "ensemble::actors"]),
    ];
    let mut wrong = Vec::new();
    for (path, text) in files() {
        for (prefix, forbidden) in rules {
            if path.starts_with(prefix) {
                for line in references(&text, forbidden) {
                    wrong.push(format!("{path}: {line}"));
                }
            }
        }
        // Only the api layer knows HTTP.
        if ["service/", "auth/", "actors/", "store/", "events/"].iter().any(|p| path.starts_with(p)) {
            for line in references(&text, &["actix_web"]) {
                wrong.push(format!("{path}: {line}"));
            }
        }
    }
    assert!(wrong.is_empty(), "references against the layer rule:\n{}", wrong.join("\n"));
}

#[test]
fn no_handler_imports_another_handler_module() {
    let mut wrong = Vec::new();
    for (path, text) in files() {
        let handler = (path.starts_with("api/client/") || path.starts_with("api/admin/")) && !path.ends_with("mod.rs");
        if !handler {
            continue;
        }
        for line in references(&text, &["crate::api::client", "crate::api::admin"]) {
            wrong.push(format!("{path}: {line}"));
        }
        // A sibling handler module through `super::` (the parent's shared items are fine).
        for line in text.lines().filter(|l| l.contains("super::") && !l.contains("super::super")) {
            let after = line.split("super::").nth(1).unwrap_or("");
            let name: String = after.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            let sibling = name.chars().next().is_some_and(|c| c.is_ascii_lowercase()) && after[name.len()..].starts_with("::");
            if sibling {
                wrong.push(format!("{path}: {}", line.trim()));
            }
        }
    }
    assert!(wrong.is_empty(), "handlers reaching into other handler modules (share a service instead):\n{}", wrong.join("\n"));
}

#[test]
fn the_rule_catches_what_it_should() {
    // The checks above are only as good as the matcher: it must see both forms of a path.
    assert_eq!(references("use crate::api::Svc;", &["crate::api"]).len(), 1);
    assert_eq!(references("    crate::store::users::exists(c, &t)", &["crate::store"]).len(), 1);
    assert!(references("use crate::apiary;", &["crate::api"]).is_empty());
    assert!(references(r#"filter("warn,ensemble::store=info")"#, &["ensemble::store"]).is_empty());
}
