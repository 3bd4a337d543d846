//! The layers of `backend/src`, checked over the code rather than trusted from the README: every `crate::…` path
//! in a module names only modules of a lower layer, and SQL is written only in `store`. A new import against the
//! direction of the layers (or a new top-level module nobody placed) fails here, naming the file and the line.
//! Handlers and pages write only through `services` (one transaction, its audit entry, its after-commit effects).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use regex::Regex;

/// Top-level modules by layer, lowest first. A module may use any module of a lower layer, none of its own
/// layer or above; `main.rs` (the binary) and `lib.rs` (the list of modules) are outside the layers.
const LAYERS: &[&[&str]] = &[
    // Values and rules without I/O; configuration.
    &["domain", "config"],
    // Logging set-up and how errors are written to it.
    &["telemetry"],
    // I/O adapters: PostgreSQL (all SQL), AWS and the Jenkins controllers' HTTP interface (no database).
    &["store", "aws", "jenkins"],
    // Identity primitives: passwords, JWTs, tokens, sessions, the identity cache.
    &["auth"],
    // The change feed (cache and watch broadcast) and the cost meter.
    &["feed", "cost"],
    // Use cases: writes of environments with their audit and effects, admission, the Jenkins configuration.
    &["environments"],
    // Every write of every resource kind, in one transaction with its audit entry and after-commit effects.
    &["services"],
    // The reconciler and its work runner.
    &["reconcile"],
    // The edge: shared application state and the HTTP error type; then who is calling and what they may do.
    &["state", "error"],
    &["caller"],
    // HTTP: the server-rendered console, then the JSON API and the router that mounts both.
    &["web"],
    &["http"],
    // Wiring: builds the application and starts its tasks.
    &["startup"],
];

fn source_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repository root").join("backend/src")
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The top-level module a file belongs to (`store/costs.rs` → `store`, `config.rs` → `config`).
fn module_of(root: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(root).expect("under the source root");
    let first = relative.components().next().expect("a component").as_os_str().to_string_lossy().into_owned();
    first.trim_end_matches(".rs").to_owned()
}

/// Every top-level module a line names through `crate::`, including each item of `crate::{a, b::c}`.
fn named_modules(line: &str, path: &Regex, group: &Regex) -> Vec<String> {
    let mut found: Vec<String> = path.captures_iter(line).map(|c| c[1].to_owned()).collect();
    for braces in group.captures_iter(line) {
        for item in braces[1].split(',') {
            if let Some(first) = item.trim().split("::").next().filter(|f| !f.is_empty() && *f != "self") {
                found.push(first.trim_start_matches('{').to_owned());
            }
        }
    }
    found
}

#[test]
fn every_module_uses_only_lower_layers_and_sql_stays_in_the_store() {
    let rank: BTreeMap<&str, usize> =
        LAYERS.iter().enumerate().flat_map(|(layer, modules)| modules.iter().map(move |m| (*m, layer))).collect();
    let path = Regex::new(r"crate::([a-z_]+)").expect("regex");
    let group = Regex::new(r"crate::\{([^}]*)\}").expect("regex");
    let sql = Regex::new(r"Statement::from_sql|find_by_statement|from_raw_sql|sqlx::query").expect("regex");
    // A transaction, an audit entry or an after-commit effect in a handler or a page: a write that bypasses the
    // services layer (which does all three in one place).
    let write = Regex::new(r"\.begin\(\)|audit::append|identity\.clear\(\)|publish_to\(|environments::writes::(create|replace|merge_patch|delete)").expect("regex");
    let root = source_root();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    files.sort();
    let mut violations = Vec::new();
    let mut seen_modules = std::collections::BTreeSet::new();
    for file in &files {
        let module = module_of(&root, file);
        if module == "main" || module == "lib" {
            continue;
        }
        seen_modules.insert(module.clone());
        let Some(&own) = rank.get(module.as_str()) else {
            violations.push(format!("{}: module `{module}` is in no layer (add it to LAYERS)", file.display()));
            continue;
        };
        let text = std::fs::read_to_string(file).expect("source");
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for used in named_modules(code, &path, &group) {
                if used == module {
                    continue;
                }
                match rank.get(used.as_str()) {
                    Some(&layer) if layer < own => {}
                    Some(_) => violations.push(format!(
                        "{}:{}: `{module}` uses `{used}`, which is not below it",
                        file.display(),
                        number + 1
                    )),
                    None => violations.push(format!("{}:{}: unknown module `{used}`", file.display(), number + 1)),
                }
            }
            if module != "store" && sql.is_match(code) {
                violations.push(format!("{}:{}: SQL outside the store", file.display(), number + 1));
            }
            if (module == "http" || module == "web") && write.is_match(code) {
                violations.push(format!("{}:{}: a write outside the services layer", file.display(), number + 1));
            }
        }
    }
    assert!(violations.is_empty(), "layering broken:\n{}", violations.join("\n"));
    // The check must see the whole tree (a moved source root would make it pass on nothing).
    assert!(seen_modules.len() >= 15 && seen_modules.contains("store"), "saw only {seen_modules:?}");
}

#[test]
fn the_check_catches_an_upward_import_and_a_grouped_one() {
    let path = Regex::new(r"crate::([a-z_]+)").expect("regex");
    let group = Regex::new(r"crate::\{([^}]*)\}").expect("regex");
    assert_eq!(named_modules("use crate::http::routes;", &path, &group), ["http"]);
    let grouped = named_modules("use crate::{store::tenants, web};", &path, &group);
    assert!(grouped.contains(&"store".to_owned()) && grouped.contains(&"web".to_owned()), "{grouped:?}");
}
