//! Seed jobs (`spec.jenkins.seedJobs`): each entry checked, and the job-dsl script that makes its seed job.
//!
//! The script goes into JCasC's `jobs:` root (job-dsl's `SeedJobConfigurator`), which runs it at every
//! configuration apply: at start and at each reload. It defines `seed-<name>`, a freestyle job on the first agent
//! label (the controller has no executors) that checks the repository out and runs job-dsl over the scripts
//! `targets` matches, and queues it, so a new or rebuilt environment comes up with its jobs and a changed seed list
//! is applied at once. Methods used, from jenkinsci/job-dsl-plugin aac2bedf (job-dsl-core): `job` (DslFactory),
//! `description` (Item), `label`, `scm`, `triggers`, `steps` (Project), `git`/`remote`/`url`/`credentials`/`branch`
//! (ScmContext, GitContext, RemoteContext), `cron` (ItemTriggerContext), `scm` (TriggerContext), `dsl` with
//! `external`, `removeAction`, `removeViewAction`, `lookupStrategy` (helpers/step/DslContext), `queue` (DslFactory).

use std::collections::HashSet;
use std::sync::LazyLock;

use regex::Regex;

use super::credentials;
use super::spec::SeedJob;
use super::validation::FieldError;

/// At most this many seed jobs per environment.
pub const MAX_SEED_JOBS: usize = 20;

static NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$").expect("static regex"));
// https://host/path, ssh://[user@]host[:port]/path, or scp-like user@host:path; no quotes, spaces or backslashes,
// so the value is safe inside a Groovy string.
static REPOSITORY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(https://[A-Za-z0-9.-]+(:[0-9]+)?/|ssh://([A-Za-z0-9._-]+@)?[A-Za-z0-9.-]+(:[0-9]+)?/|[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:)[A-Za-z0-9._~/+-]+$")
        .expect("static regex")
});
static BRANCH: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$").expect("static regex"));
static TARGETS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[A-Za-z0-9._/*?{},-]{1,200}$").expect("static regex"));
// Jenkins cron: five fields of digits, H, *, ranges, steps, lists, or one @-keyword.
static SCHEDULE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^((@(yearly|annually|monthly|weekly|daily|midnight|hourly))|([0-9H*,/()\-]+( [0-9H*,/()\-]+){4}))$")
        .expect("static regex")
});

/// Every problem of the seed list, by field path.
pub fn review(seeds: &[SeedJob]) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut error = |field: String, message: &str| errors.push(FieldError { field, message: message.to_owned() });
    if seeds.len() > MAX_SEED_JOBS {
        error("spec.jenkins.seedJobs".into(), "must have at most 20 entries");
    }
    let mut names = HashSet::new();
    for (index, seed) in seeds.iter().enumerate() {
        let at = |field: &str| format!("spec.jenkins.seedJobs[{index}].{field}");
        if !NAME.is_match(&seed.name) {
            error(at("name"), "must be 1 to 40 lower-case letters, digits or '-' (the job is seed-<name>)");
        } else if !names.insert(seed.name.as_str()) {
            error(at("name"), "is used by another seed job");
        }
        if !REPOSITORY.is_match(&seed.repository) {
            error(at("repository"), "must be a Git URL: https://host/path, ssh://host/path or user@host:path");
        }
        if !BRANCH.is_match(&seed.branch) || seed.branch.contains("..") {
            error(at("branch"), "must be a branch name such as main or release/1.x");
        }
        if !TARGETS.is_match(&seed.targets) || seed.targets.contains("..") {
            error(at("targets"), "must be a path glob in the repository such as jobs/**/*.groovy");
        }
        if let Some(id) = &seed.credentials_id {
            if credentials::check_id(id).is_err() {
                error(at("credentialsId"), "must be the id of one of this environment's credentials");
            }
        }
        if let Some(schedule) = &seed.schedule {
            if !SCHEDULE.is_match(schedule.trim()) {
                error(at("schedule"), "must be a Jenkins cron schedule such as 'H 3 * * *' or @daily");
            }
        }
    }
    errors
}

/// Quotes `text` as a single-quoted Groovy string (the checks above already keep quotes and backslashes out).
fn groovy(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The Jenkins name of a seed job.
pub fn job_name(seed: &SeedJob) -> String {
    format!("seed-{}", seed.name)
}

/// The job-dsl script defining and queueing the seed jobs; `label` is where they run (an agent template's label).
pub fn script(seeds: &[SeedJob], label: &str) -> String {
    let mut script = String::new();
    for seed in seeds {
        let name = groovy(&job_name(seed));
        let description = format!(
            "Managed by Butler: runs the job-dsl scripts {} of {} ({}).",
            seed.targets, seed.repository, seed.branch
        );
        let credentials = seed
            .credentials_id
            .as_deref()
            .map(|id| format!("        credentials({})\n", groovy(id)))
            .unwrap_or_default();
        let mut triggers = String::new();
        if let Some(schedule) = &seed.schedule {
            triggers.push_str(&format!("    cron({})\n", groovy(schedule.trim())));
        }
        if seed.on_push {
            // The git plugin's notifyCommit starts jobs that poll; an empty schedule polls only when notified.
            triggers.push_str("    scm('')\n");
        }
        let triggers = if triggers.is_empty() { String::new() } else { format!("  triggers {{\n{triggers}  }}\n") };
        script.push_str(&format!(
            "job({name}) {{\n  description({description})\n  label({label})\n  scm {{\n    git {{\n      remote {{\n        url({url})\n{credentials}      }}\n      branch({branch})\n    }}\n  }}\n{triggers}  steps {{\n    dsl {{\n      external({targets})\n      removeAction('DISABLE')\n      removeViewAction('DELETE')\n      lookupStrategy('SEED_JOB')\n    }}\n  }}\n}}\nqueue({name})\n",
            description = groovy(&description),
            label = groovy(label),
            url = groovy(&seed.repository),
            branch = groovy(&seed.branch),
            targets = groovy(&seed.targets),
        ));
    }
    script
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed(name: &str) -> SeedJob {
        SeedJob { name: name.into(), repository: "https://git.example.com/team/jobs.git".into(), ..SeedJob::default() }
    }

    #[test]
    fn bad_entries_are_named_by_path() {
        let mut bad = seed("Bad Name");
        bad.repository = "https://x/y'); System.exit(0); ('".into();
        bad.schedule = Some("every day".into());
        let fields: Vec<_> = review(&[bad, seed("ok"), seed("ok")]).into_iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                "spec.jenkins.seedJobs[0].name",
                "spec.jenkins.seedJobs[0].repository",
                "spec.jenkins.seedJobs[0].schedule",
                "spec.jenkins.seedJobs[2].name"
            ]
        );
        let mut fine = seed("web");
        fine.repository = "git@github.com:team/jobs.git".into();
        fine.schedule = Some("H 3 * * 1-5".into());
        fine.credentials_id = Some("github-deploy-key".into());
        assert!(review(&[fine]).is_empty());
    }

    /// The job-dsl methods the script may call, each found in jenkinsci/job-dsl-plugin aac2bedf job-dsl-core:
    /// DslFactory (`job`, `queue`), Item (`description`), Project (`label`, `scm`, `triggers`, `steps`),
    /// ScmContext (`git`), GitContext (`remote`, `branch`), RemoteContext (`url`, `credentials`),
    /// ItemTriggerContext (`cron`), TriggerContext (`scm`), StepContext (`dsl`), DslContext (`external`,
    /// `removeAction`, `removeViewAction`, `lookupStrategy`); and the values DslContext allows.
    const JOB_DSL_METHODS: &[&str] = &[
        "job",
        "queue",
        "description",
        "label",
        "scm",
        "triggers",
        "steps",
        "git",
        "remote",
        "branch",
        "url",
        "credentials",
        "cron",
        "dsl",
        "external",
        "removeAction",
        "removeViewAction",
        "lookupStrategy",
    ];

    #[test]
    fn the_script_calls_only_methods_job_dsl_declares_with_values_it_allows() {
        let mut first = seed("web");
        first.credentials_id = Some("github".into());
        first.schedule = Some("@daily".into());
        first.on_push = true;
        let text = script(&[first, seed("tools")], "ecs-agents");
        // Every `name(` or `name {` outside a quoted string is a DSL call.
        let mut calls = Vec::new();
        let mut quoted = false;
        let mut word = String::new();
        for c in text.chars() {
            if c == '\'' {
                quoted = !quoted;
                word.clear();
            } else if !quoted && (c.is_ascii_alphanumeric() || c == '_') {
                word.push(c);
            } else {
                if !quoted && !word.is_empty() && (c == '(' || c == ' ' || c == '{') {
                    calls.push(word.clone());
                }
                word.clear();
            }
        }
        for call in &calls {
            assert!(JOB_DSL_METHODS.contains(&call.as_str()), "{call} is not a job-dsl method Butler checked");
        }
        assert!(text.contains("removeAction('DISABLE')") && text.contains("removeViewAction('DELETE')"));
        assert!(text.contains("lookupStrategy('SEED_JOB')"));
    }

    #[test]
    fn the_script_defines_runs_and_triggers_each_seed_job() {
        let mut first = seed("web");
        first.credentials_id = Some("github".into());
        first.schedule = Some("H 3 * * *".into());
        first.on_push = true;
        let text = script(&[first, seed("tools")], "ecs-agents");
        assert!(text.contains("job('seed-web') {"), "{text}");
        assert!(text.contains("credentials('github')"));
        assert!(text.contains("cron('H 3 * * *')") && text.contains("scm('')"));
        assert!(text.contains("queue('seed-web')") && text.contains("queue('seed-tools')"));
        assert!(text.contains("external('jobs/**/*.groovy')") && text.contains("label('ecs-agents')"));
        assert_eq!(text.matches("triggers {").count(), 1, "a seed job without schedule or push has no triggers");
    }
}
