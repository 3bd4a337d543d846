//! Label syntax (Kubernetes rules) and label selectors: parsing, matching in memory, and SQL for list queries.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

static NAME_PART: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$").expect("static regex"));
static DNS_SUBDOMAIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$").expect("static regex")
});

/// Checks a label or annotation key: `[prefix/]name`, prefix a DNS subdomain, name up to 63 characters.
pub(crate) fn check_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        if prefix.len() > 253 || !DNS_SUBDOMAIN.is_match(prefix) {
            return Err(format!("key prefix {prefix:?} must be a DNS subdomain (lower case, dots, at most 253)"));
        }
    }
    if !NAME_PART.is_match(name) {
        return Err(format!(
            "key name {name:?} must be 1-63 characters of letters, digits, '-', '_' or '.', starting and ending \
             with a letter or digit"
        ));
    }
    Ok(())
}

/// Checks a label value: empty, or up to 63 characters as for key names.
pub(crate) fn check_value(value: &str) -> Result<(), String> {
    if value.is_empty() || NAME_PART.is_match(value) {
        Ok(())
    } else {
        Err(format!(
            "value {value:?} must be at most 63 characters of letters, digits, '-', '_' or '.', starting and \
             ending with a letter or digit"
        ))
    }
}

/// One requirement of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

/// A parsed `labelSelector`: every requirement must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    pub requirements: Vec<Requirement>,
}

impl LabelSelector {
    /// Parses `team=checkout,tier!=gold,env in (a,b),!legacy`. The error names the bad requirement.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut requirements = Vec::new();
        for part in split_top_level(text)? {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            requirements.push(parse_requirement(part)?);
        }
        Ok(Self { requirements })
    }

    /// Whether `labels` satisfy every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|requirement| match requirement {
            Requirement::Equals(k, v) => labels.get(k) == Some(v),
            Requirement::NotEquals(k, v) => labels.get(k) != Some(v),
            Requirement::In(k, vs) => labels.get(k).is_some_and(|value| vs.contains(value)),
            Requirement::NotIn(k, vs) => !labels.get(k).is_some_and(|value| vs.contains(value)),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::DoesNotExist(k) => !labels.contains_key(k),
        })
    }

    /// SQL conditions over a `labels jsonb` column, with placeholders numbered from `first_placeholder`.
    /// Returns the condition text (or `TRUE`) and the JSON values to bind in order.
    pub(crate) fn to_sql(&self, first_placeholder: usize) -> (String, Vec<serde_json::Value>) {
        let mut binds = Binds { next: first_placeholder, values: Vec::new() };
        let mut conditions = Vec::new();
        for requirement in &self.requirements {
            let condition = match requirement {
                Requirement::Equals(k, v) => binds.contains(k, v),
                Requirement::NotEquals(k, v) => format!("NOT ({})", binds.contains(k, v)),
                Requirement::In(k, vs) => {
                    let any: Vec<String> = vs.iter().map(|v| binds.contains(k, v)).collect();
                    format!("({})", any.join(" OR "))
                }
                Requirement::NotIn(k, vs) => {
                    let any: Vec<String> = vs.iter().map(|v| binds.contains(k, v)).collect();
                    format!("NOT ({})", any.join(" OR "))
                }
                // jsonb_exists is the function behind the `?` operator, spelled out so no driver mistakes `?`
                // for a placeholder.
                Requirement::Exists(k) => format!("jsonb_exists(labels, {}::text)", binds.bind(k.as_str().into())),
                Requirement::DoesNotExist(k) => {
                    format!("NOT jsonb_exists(labels, {}::text)", binds.bind(k.as_str().into()))
                }
            };
            conditions.push(condition);
        }
        let sql = if conditions.is_empty() { "TRUE".to_owned() } else { conditions.join(" AND ") };
        (sql, binds.values)
    }
}

/// Numbered placeholders and the values bound to them.
struct Binds {
    next: usize,
    values: Vec<serde_json::Value>,
}

impl Binds {
    fn bind(&mut self, value: serde_json::Value) -> String {
        self.values.push(value);
        self.next += 1;
        format!("${}", self.next - 1)
    }

    /// `labels @> {"key": "value"}`: served by the GIN index on labels.
    fn contains(&mut self, key: &str, value: &str) -> String {
        format!("labels @> {}::jsonb", self.bind(serde_json::json!({ key: value })))
    }
}

fn split_top_level(text: &str) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (index, character) in text.char_indices() {
        match character {
            '(' => depth += 1,
            ')' => depth = depth.checked_sub(1).ok_or_else(|| format!("unbalanced ')' in {text:?}"))?,
            ',' if depth == 0 => {
                parts.push(&text[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(format!("unbalanced '(' in {text:?}"));
    }
    parts.push(&text[start..]);
    Ok(parts)
}

fn parse_set(key: &str, rest: &str, part: &str) -> Result<Vec<String>, String> {
    let inner = rest
        .trim()
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| format!("{part:?}: expected a parenthesised list of values after {key:?}"))?;
    let values: Vec<String> = inner.split(',').map(|v| v.trim().to_owned()).collect();
    for value in &values {
        check_value(value).map_err(|e| format!("{part:?}: {e}"))?;
    }
    Ok(values)
}

fn parse_requirement(part: &str) -> Result<Requirement, String> {
    let checked_key = |key: &str| -> Result<String, String> {
        let key = key.trim();
        check_key(key).map_err(|e| format!("{part:?}: {e}"))?;
        Ok(key.to_owned())
    };
    let checked_value = |value: &str| -> Result<String, String> {
        let value = value.trim();
        check_value(value).map_err(|e| format!("{part:?}: {e}"))?;
        Ok(value.to_owned())
    };
    if let Some(key) = part.strip_prefix('!') {
        return Ok(Requirement::DoesNotExist(checked_key(key)?));
    }
    if let Some((key, value)) = part.split_once("!=") {
        return Ok(Requirement::NotEquals(checked_key(key)?, checked_value(value)?));
    }
    if let Some((key, value)) = part.split_once("==").or_else(|| part.split_once('=')) {
        return Ok(Requirement::Equals(checked_key(key)?, checked_value(value)?));
    }
    let mut words = part.splitn(2, char::is_whitespace);
    let key = words.next().unwrap_or_default();
    let rest = words.next().unwrap_or_default().trim_start();
    if let Some(set) = rest.strip_prefix("notin") {
        return Ok(Requirement::NotIn(checked_key(key)?, parse_set(key, set, part)?));
    }
    if let Some(set) = rest.strip_prefix("in") {
        return Ok(Requirement::In(checked_key(key)?, parse_set(key, set, part)?));
    }
    if rest.is_empty() {
        return Ok(Requirement::Exists(checked_key(key)?));
    }
    Err(format!("{part:?}: expected key=value, key!=value, key in (...), key notin (...), key or !key"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn selector_parses_every_operator() {
        let selector = LabelSelector::parse("team=checkout,tier!=gold,env in (dev, qa),zone notin (b),owner,!legacy")
            .expect("valid selector");
        assert_eq!(selector.requirements.len(), 6);
        assert!(selector.matches(&labels(&[("team", "checkout"), ("env", "qa"), ("owner", "x")])));
        assert!(!selector.matches(&labels(&[("team", "checkout"), ("env", "prod"), ("owner", "x")])));
        assert!(!selector.matches(&labels(&[("team", "checkout"), ("env", "qa"), ("owner", "x"), ("legacy", "")])));
    }

    #[test]
    fn selector_errors_name_the_requirement() {
        let error = LabelSelector::parse("team=checkout,bad key=1").expect_err("invalid");
        assert!(error.contains("bad key=1"), "{error}");
        assert!(LabelSelector::parse("env in (a,b").is_err());
    }

    #[test]
    fn sql_numbers_placeholders_from_the_offset() {
        let selector = LabelSelector::parse("a=1,b in (x,y),c").expect("valid");
        let (sql, values) = selector.to_sql(3);
        assert_eq!(
            sql,
            "labels @> $3::jsonb AND (labels @> $4::jsonb OR labels @> $5::jsonb) AND jsonb_exists(labels, $6::text)"
        );
        assert_eq!(values.len(), 4);
    }

    #[test]
    fn keys_follow_kubernetes_rules() {
        assert!(check_key("team").is_ok());
        assert!(check_key("butler.dev/cost-center").is_ok());
        assert!(check_key("-team").is_err());
        assert!(check_key("Bad_Prefix/x").is_err());
        assert!(check_value("").is_ok());
        assert!(check_value("a b").is_err());
    }
}
