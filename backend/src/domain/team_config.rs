//! A team's own JCasC (`spec.jenkins.configurationAsCode`): parsed, bounded, checked against the keys Butler owns
//! and the interpolations it allows, and merged under the document Butler generates.
//!
//! Interpolation is the way a JCasC file copies a secret into configuration (`${VARIABLE}` resolves environment
//! variables, system properties and secret sources). The controller's environment holds Butler's secrets (the admin
//! password, the sign-in client secret), and a team's configuration could copy one into something a viewer reads (a
//! system message, a job description). So the only `${…}` a team may write names one of its environment's own
//! credentials, `${<credential id>}`; Butler rewrites it to that credential's Secrets Manager name, which the
//! aws-secrets-manager-secret-source plugin resolves with the controller's role (allowed to read its own only).

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::credentials;
use super::validation::FieldError;

/// Where the document is in the spec (and the prefix of every error's field path).
pub const FIELD: &str = "spec.jenkins.configurationAsCode";
/// Largest team document: the generated whole travels in the task definition when Butler has no public address,
/// and ECS caps a task definition at 64 KiB.
pub const MAX_BYTES: usize = 32 * 1024;

/// Paths Butler sets or reserves, and why: a team document may set neither them nor anything under them.
pub const OWNED: &[(&str, &str)] = &[
    ("jenkins.securityRealm", "sign-in is Butler's (its OpenID Connect realm, or the local admin)"),
    ("jenkins.authorizationStrategy", "Jenkins rights follow the tenant's roles in Butler"),
    ("jenkins.clouds", "Butler's ECS cloud launches the agents: change spec.agents"),
    ("jenkins.slaveAgentPort", "agents connect on port 50000, the one the security groups open"),
    ("jenkins.numExecutors", "builds run on agents, never on the controller"),
    ("jenkins.systemMessage", "it says the environment is managed by Butler"),
    ("jenkins.proxy", "it comes from the cloud profile's egress proxy"),
    ("unclassified.location.url", "it is the environment's address (status.outputs.url)"),
    ("unclassified.awsCredentialsProvider", "credentials come from …/credentials (Secrets Manager)"),
    ("jobs", "jobs come from spec.jenkins.seedJobs (a jobs script would run as SYSTEM)"),
    ("groovy", "a configuration script would run as SYSTEM"),
    ("security.globalJobDslSecurityConfiguration", "job-dsl script security stays on"),
    ("security.scriptApproval", "approving scripts is a Jenkins administrator's act, not configuration"),
    ("jenkins.markupFormatter", "raw HTML in descriptions would run script in other people's sessions"),
    ("jenkins.crumbIssuer", "CSRF protection stays on"),
];

/// A parsed team document (a mapping; empty when the spec has none).
pub type Document = Map<String, Value>;

fn error(path: &str, message: impl Into<String>) -> FieldError {
    let field = if path.is_empty() { FIELD.to_owned() } else { format!("{FIELD}.{path}") };
    FieldError { field, message: message.into() }
}

/// Parses `yaml` (the empty document is an empty mapping); the error names the line and column.
pub fn parse(yaml: &str) -> Result<Document, FieldError> {
    if yaml.len() > MAX_BYTES {
        let message = format!("is {} bytes; at most {MAX_BYTES} (32 KiB) are accepted", yaml.len());
        return Err(error("", message));
    }
    if yaml.trim().is_empty() {
        return Ok(Document::new());
    }
    let value: Value = serde_yaml_ng::from_str(yaml).map_err(|e| {
        let at = e.location().map(|l| format!(" at line {}, column {}", l.line(), l.column())).unwrap_or_default();
        error("", format!("is not valid YAML{at}: {e}"))
    })?;
    match value {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Document::new()),
        _ => Err(error("", "must be a mapping of JCasC root elements (jenkins, unclassified, tool, …)")),
    }
}

/// Every problem of a team document: owned keys and interpolations. `credential_ids` are the environment's
/// credentials when known (None: only the form of each reference is checked).
pub fn check(document: &Document, credential_ids: Option<&BTreeSet<String>>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    // A YAML merge key would splice a mapping in where the checks below do not look (Jenkins' YAML parser
    // applies `<<`; this one keeps it as a plain key).
    walk_strings(&Value::Object(document.clone()), "", &mut |path, text, is_key| {
        if is_key && text == "<<" {
            errors.push(error(path, "uses a YAML merge key (<<): write the keys out"));
        }
    });
    for (path, why) in OWNED {
        if let Some(found) = first_set_under(document, path) {
            errors.push(error(&found, format!("is set by Butler and cannot be overridden: {why}")));
        }
    }
    // Where Butler's document has a mapping, the team's must be one too, or the two cannot be merged.
    let mut skeleton = serde_json::json!({ "jenkins": {}, "unclassified": { "location": {} }, "security": {} });
    if let Some(skeleton) = skeleton.as_object_mut() {
        if let Err(path) = merge_under(skeleton, document.clone()) {
            errors.push(error(&path, "must be a mapping: Butler's configuration has keys under it"));
        }
    }
    walk_strings(&Value::Object(document.clone()), "", &mut |path, text, _| {
        for reference in references(text) {
            if let Some(why) = refusal(&reference) {
                errors.push(error(path, why));
                continue;
            }
            let Some(id) = reference.credential() else { continue };
            if credential_ids.is_some_and(|known| !known.contains(id)) {
                errors.push(error(
                    path,
                    format!("interpolates ${{{id}}}, but this environment has no credential {id:?}: add it first"),
                ));
            }
        }
    });
    errors
}

/// The credential ids a document interpolates.
pub fn referenced_credentials(document: &Document) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    walk_strings(&Value::Object(document.clone()), "", &mut |_, text, _| {
        found.extend(references(text).iter().filter_map(|r| r.credential().map(str::to_owned)));
    });
    found
}

/// Rewrites each `${<id>}` to `${<secret prefix><id>}`: the environment's own Secrets Manager name for it.
pub fn resolve_credentials(document: &mut Document, secret_prefix: &str) {
    fn rewrite(value: &mut Value, prefix: &str) {
        match value {
            Value::String(text) => *text = rewritten(text, prefix),
            Value::Array(items) => items.iter_mut().for_each(|item| rewrite(item, prefix)),
            Value::Object(map) => map.values_mut().for_each(|item| rewrite(item, prefix)),
            _ => {}
        }
    }
    document.values_mut().for_each(|value| rewrite(value, secret_prefix));
}

/// Merges `team` under `butler`: keys only the team sets are added, mappings both set are merged; a key both set
/// otherwise is a conflict (admission refuses those first, so here it means a Butler bug), named by its path.
pub fn merge_under(butler: &mut Map<String, Value>, team: Document) -> Result<(), String> {
    fn merge(into: &mut Map<String, Value>, from: Map<String, Value>, at: &str) -> Result<(), String> {
        for (key, value) in from {
            let path = if at.is_empty() { key.clone() } else { format!("{at}.{key}") };
            // JCasC matches attribute names without regard to case: `securityrealm` is `securityRealm`.
            let same = into.keys().find(|mine| mine.eq_ignore_ascii_case(&key)).cloned();
            match (same.and_then(|mine| into.get_mut(&mine)), value) {
                (None, value) => {
                    into.insert(key, value);
                }
                (Some(Value::Object(mine)), Value::Object(theirs)) => merge(mine, theirs, &path)?,
                (Some(_), _) => return Err(path),
            }
        }
        Ok(())
    }
    merge(butler, team, "")
}

/// The first path at or under `owned` the document sets (`jenkins.clouds`, `jenkins.clouds[0]`…), if any.
/// Keys compare without regard to case, as JCasC's do (`BaseConfigurator.removeIgnoreCase`).
fn first_set_under(document: &Document, owned: &str) -> Option<String> {
    let mut current = document;
    let mut walked = Vec::new();
    let segments: Vec<&str> = owned.split('.').collect();
    for (index, segment) in segments.iter().enumerate() {
        let (key, value) = current.iter().find(|(key, _)| key.eq_ignore_ascii_case(segment))?;
        walked.push(key.as_str());
        if index + 1 == segments.len() {
            return Some(walked.join("."));
        }
        current = value.as_object()?;
    }
    None
}

/// Calls `visit(path, text, is_key)` for every string, keys of mappings too (JCasC interpolates both).
fn walk_strings(value: &Value, path: &str, visit: &mut impl FnMut(&str, &str, bool)) {
    match value {
        Value::String(text) => visit(path, text, false),
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                walk_strings(item, &format!("{path}[{index}]"), visit);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                let child = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                visit(&child, key, true);
                walk_strings(item, &child, visit);
            }
        }
        _ => {}
    }
}

/// One `${` of a text: where it starts, what follows up to the first `}`, whether that `}` exists, and whether it
/// is escaped (`^${`).
struct Reference<'a> {
    start: usize,
    inner: &'a str,
    closed: bool,
    escaped: bool,
}

impl Reference<'_> {
    /// A live reference to a credential id: the one form a team may write.
    fn credential(&self) -> Option<&str> {
        (!self.escaped && self.closed && credentials::check_id(self.inner).is_ok()).then_some(self.inner)
    }
}

/// Every `${` of `text`, escaped or not, and those inside another's braces too: JCasC's resolver (commons-text,
/// escapes preserved) scans on right after an escape, so an escaped `^${ … }` can hide a live one inside it.
fn references(text: &str) -> Vec<Reference<'_>> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(offset) = text[from..].find("${") {
        let start = from + offset;
        let rest = &text[start + 2..];
        let (inner, closed) = match rest.find('}') {
            Some(end) => (&rest[..end], true),
            None => (rest, false),
        };
        found.push(Reference { start, inner, closed, escaped: start > 0 && text.as_bytes()[start - 1] == b'^' });
        from = start + 2;
    }
    found
}

/// Why a `${…}` is refused, if it is: only `${<credential id>}` and escaped literals holding no interpolation pass.
fn refusal(reference: &Reference<'_>) -> Option<String> {
    let inner = reference.inner;
    if reference.escaped {
        return (!reference.closed || inner.contains('$') || inner.contains('{'))
            .then(|| format!("holds ^${{{inner}: an escaped literal may hold no other interpolation"));
    }
    reference.credential().is_none().then(|| {
        format!(
            "interpolates ${{{inner}}}: only ${{<credential id>}} of this environment's credentials may be \
             interpolated (the controller's environment variables, properties and files may not); write ^${{…}} for a \
             literal"
        )
    })
}

fn rewritten(text: &str, prefix: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for reference in references(text) {
        if reference.credential().is_some() {
            out.push_str(&text[copied..reference.start + 2]);
            out.push_str(prefix);
            copied = reference.start + 2;
        }
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(yaml: &str, known: &[&str]) -> Vec<String> {
        let known: BTreeSet<String> = known.iter().map(|k| (*k).to_owned()).collect();
        match parse(yaml) {
            Ok(document) => check(&document, Some(&known)).into_iter().map(|e| e.field).collect(),
            Err(error) => vec![error.field],
        }
    }

    #[test]
    fn an_owned_key_is_named_by_its_path_and_a_neighbour_is_not() {
        let yaml = "jenkins:\n  securityRealm:\n    local: {}\n  mode: NORMAL\nunclassified:\n  location:\n    adminAddress: ci@example.com\n    url: https://evil.example/\n";
        assert_eq!(
            fields(yaml, &[]),
            [format!("{FIELD}.jenkins.securityRealm"), format!("{FIELD}.unclassified.location.url")]
        );
        assert!(fields("unclassified:\n  location:\n    adminAddress: ci@example.com\n", &[]).is_empty());
        assert_eq!(fields("jobs:\n  - script: job('x')\n", &[]), [format!("{FIELD}.jobs")]);
        // JCasC reads keys without regard to case; a merge key would hide an owned one.
        assert_eq!(fields("Jenkins:\n  SECURITYREALM: {}\n", &[]), [format!("{FIELD}.Jenkins.SECURITYREALM")]);
        let merge = "base: &b\n  authorizationStrategy: unsecured\njenkins:\n  <<: *b\n";
        assert!(fields(merge, &[]).contains(&format!("{FIELD}.jenkins.<<")), "{:?}", fields(merge, &[]));
    }

    #[test]
    fn invalid_yaml_and_a_large_document_are_refused_with_where() {
        let error = parse("jenkins:\n  mode: [unclosed\n").expect_err("refused");
        assert_eq!(error.field, FIELD);
        assert!(error.message.contains("line"), "{}", error.message);
        let large = format!("jenkins:\n  labelString: \"{}\"\n", "a".repeat(MAX_BYTES));
        assert!(parse(&large).expect_err("refused").message.contains("at most 32768"));
        assert!(parse("- a\n- b\n").expect_err("refused").message.contains("mapping"));
        let unmergeable =
            |yaml: &str| check(&parse(yaml).expect("parses"), None).into_iter().map(|e| e.field).collect::<Vec<_>>();
        assert_eq!(unmergeable("jenkins: ~\n"), [format!("{FIELD}.jenkins")]);
        assert_eq!(unmergeable("unclassified:\n  location: 1\n"), [format!("{FIELD}.unclassified.location")]);
    }

    #[test]
    fn only_declared_credentials_may_be_interpolated() {
        let yaml = "unclassified:\n  slack:\n    token: ${JENKINS_ADMIN_PASSWORD}\n    room: \"${slack-room}\"\n    note: \"^${LITERAL}\"\n";
        let found = fields(yaml, &["slack-room"]);
        assert_eq!(found, [format!("{FIELD}.unclassified.slack.token")]);
        assert_eq!(fields("tool:\n  x: ${missing}\n", &["other"]), [format!("{FIELD}.tool.x")]);
        assert_eq!(fields("tool:\n  \"${HOME}\": 1\n", &[]), [format!("{FIELD}.tool.${{HOME}}")]);
        // An escaped literal cannot hide a live reference (JCasC scans on inside it), nor can a default or a lookup.
        for hidden in
            ["^${ ${JENKINS_ADMIN_PASSWORD:-x}}", "${slack-room:-x}", "${readFile:/proc/self/environ}", "${${HOME}}"]
        {
            let yaml = format!("tool:\n  x: \"{hidden}\"\n");
            let found = fields(&yaml, &["slack-room"]);
            assert!(!found.is_empty() && found.iter().all(|f| *f == format!("{FIELD}.tool.x")), "{hidden}: {found:?}");
        }
    }

    #[test]
    fn references_are_rewritten_to_the_environments_own_secret_names() {
        let mut document = parse("tool:\n  a: \"x ${token} y ^${kept} ${token}\"\n").expect("ok");
        resolve_credentials(&mut document, "butler/t/e/");
        assert_eq!(document["tool"]["a"], "x ${butler/t/e/token} y ^${kept} ${butler/t/e/token}");
    }

    #[test]
    fn the_merge_keeps_butlers_keys_and_adds_the_teams() {
        let mut butler =
            serde_json::json!({ "jenkins": { "numExecutors": 0 }, "unclassified": { "location": { "url": "u" } } });
        let team =
            parse("jenkins:\n  mode: EXCLUSIVE\nunclassified:\n  location:\n    adminAddress: a@b\ntool:\n  git: {}\n")
                .expect("ok");
        merge_under(butler.as_object_mut().expect("ok"), team).expect("ok");
        assert_eq!(butler["jenkins"], serde_json::json!({ "numExecutors": 0, "mode": "EXCLUSIVE" }));
        assert_eq!(butler["unclassified"]["location"], serde_json::json!({ "url": "u", "adminAddress": "a@b" }));
        let conflict = parse("jenkins:\n  numExecutors: 4\n").expect("ok");
        assert_eq!(merge_under(butler.as_object_mut().expect("ok"), conflict), Err("jenkins.numExecutors".to_owned()));
    }
}
