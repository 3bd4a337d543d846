//! A small evaluator of identity policies, for tests that ask "may this role do that to this resource": Allow
//! and Deny statements, `Action`/`NotAction`, `Resource`, IAM's `*` and `?` wildcards. A statement with a
//! `Condition` is not counted as allowing anything (these tests ask what a role may do unconditionally), and an
//! explicit Deny wins, as in IAM's evaluation logic.

use serde_json::Value;

/// IAM's wildcard match: `*` any run of characters (`/` and `:` included), `?` one character.
pub fn wildcard(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    }
}

fn matches(statement: &Value, action: &str, resource: &str) -> bool {
    let action_ok = if statement.get("NotAction").is_some() {
        !strings(&statement["NotAction"]).iter().any(|a| wildcard(&a.to_lowercase(), &action.to_lowercase()))
    } else {
        strings(&statement["Action"]).iter().any(|a| wildcard(&a.to_lowercase(), &action.to_lowercase()))
    };
    action_ok && strings(&statement["Resource"]).iter().any(|r| wildcard(r, resource))
}

/// Whether the policies (documents with `Statement`) allow `action` on `resource` without conditions.
pub fn allows<'a>(policies: impl IntoIterator<Item = &'a Value>, action: &str, resource: &str) -> bool {
    let statements: Vec<&Value> = policies
        .into_iter()
        .flat_map(|policy| match &policy["Statement"] {
            Value::Array(items) => items.iter().collect::<Vec<_>>(),
            single @ Value::Object(_) => vec![single],
            _ => Vec::new(),
        })
        .collect();
    let denied = statements.iter().any(|s| s["Effect"] == "Deny" && matches(s, action, resource));
    let allowed = statements
        .iter()
        .any(|s| s["Effect"] == "Allow" && s.get("Condition").is_none() && matches(s, action, resource));
    allowed && !denied
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_as_iam_does() {
        assert!(wildcard(
            "arn:aws:secretsmanager:eu-west-1:*:secret:butler/t/e/*",
            "arn:aws:secretsmanager:eu-west-1:123:secret:butler/t/e/x-AbCdEf"
        ));
        assert!(!wildcard(
            "arn:aws:secretsmanager:eu-west-1:*:secret:butler/t/e/*",
            "arn:aws:secretsmanager:eu-west-1:123:secret:butler/t/e-2/x-AbCdEf"
        ));
        assert!(wildcard("a?c", "abc") && !wildcard("a?c", "ac"));
        let policy = serde_json::json!({ "Statement": [
            { "Effect": "Allow", "Action": "s3:*", "Resource": "*" },
            { "Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*" }
        ] });
        assert!(allows([&policy], "s3:GetObject", "arn:aws:s3:::b/k"));
        assert!(!allows([&policy], "s3:DeleteBucket", "arn:aws:s3:::b"));
    }
}
