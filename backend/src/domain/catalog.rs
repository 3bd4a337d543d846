//! Facts about AWS that validation needs: the task sizes ECS accepts and the instance types Butler knows.

/// Task-level CPU units ECS accepts on the EC2 launch type (1024 = one vCPU).
pub(crate) const TASK_CPU_RANGE: std::ops::RangeInclusive<u32> = 128..=16384;
/// Task-level memory (MiB) Butler accepts: ECS's floor is tiny, but a JVM below 512 MiB does not start.
pub(crate) const TASK_MEMORY_RANGE: std::ops::RangeInclusive<u32> = 512..=122_880;

/// Whether ECS accepts a task of `cpu` units with `memory` MiB on the EC2 launch type, and whether it fits on
/// every instance type of the group (any Spot pool may be the one that launches). `Err` says what to change.
///
/// On EC2 the binding limit is the instance: ECS leaves a task PENDING forever ("no container instance met all of
/// its requirements") when no registered instance has the cpu or memory left, so validation checks it up front.
pub(crate) fn check_task_size(cpu: u32, memory: u32, instance_types: &[String]) -> Result<(), String> {
    if !TASK_CPU_RANGE.contains(&cpu) {
        return Err(format!(
            "cpu must be between {} and {} units (1024 = 1 vCPU)",
            TASK_CPU_RANGE.start(),
            TASK_CPU_RANGE.end()
        ));
    }
    if !TASK_MEMORY_RANGE.contains(&memory) {
        return Err(format!(
            "memory must be between {} and {} MiB",
            TASK_MEMORY_RANGE.start(),
            TASK_MEMORY_RANGE.end()
        ));
    }
    for known in instance_types.iter().filter_map(|name| instance_type(name)) {
        let usable_memory = known.memory_mib - INSTANCE_MEMORY_OVERHEAD_MIB;
        if cpu > known.vcpus * 1024 || memory > usable_memory {
            return Err(format!(
                "cpu {cpu} / memory {memory} MiB does not fit on {} ({} vCPU, {} MiB usable by tasks)",
                known.name, known.vcpus, usable_memory
            ));
        }
    }
    Ok(())
}

/// An EC2 instance type Butler can put in an Auto Scaling Group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceType {
    pub name: &'static str,
    pub vcpus: u32,
    pub memory_mib: u32,
}

const fn it(name: &'static str, vcpus: u32, gib: u32) -> InstanceType {
    InstanceType { name, vcpus, memory_mib: gib * 1024 }
}

/// Current-generation x86 general purpose, compute and memory families that run the ECS-optimised AMI.
pub(crate) const INSTANCE_TYPES: &[InstanceType] = &[
    it("t3.medium", 2, 4),
    it("t3.large", 2, 8),
    it("t3a.large", 2, 8),
    it("m5.large", 2, 8),
    it("m5a.large", 2, 8),
    it("m5n.large", 2, 8),
    it("m6i.large", 2, 8),
    it("m6a.large", 2, 8),
    it("m7i.large", 2, 8),
    it("m7a.large", 2, 8),
    it("m5.xlarge", 4, 16),
    it("m5a.xlarge", 4, 16),
    it("m5n.xlarge", 4, 16),
    it("m6i.xlarge", 4, 16),
    it("m6a.xlarge", 4, 16),
    it("m7i.xlarge", 4, 16),
    it("m7a.xlarge", 4, 16),
    it("m5.2xlarge", 8, 32),
    it("m5a.2xlarge", 8, 32),
    it("m6i.2xlarge", 8, 32),
    it("m6a.2xlarge", 8, 32),
    it("m7i.2xlarge", 8, 32),
    it("m7a.2xlarge", 8, 32),
    it("c5.large", 2, 4),
    it("c5a.large", 2, 4),
    it("c6i.large", 2, 4),
    it("c6a.large", 2, 4),
    it("c7i.large", 2, 4),
    it("c5.xlarge", 4, 8),
    it("c5a.xlarge", 4, 8),
    it("c6i.xlarge", 4, 8),
    it("c6a.xlarge", 4, 8),
    it("c7i.xlarge", 4, 8),
    it("c5.2xlarge", 8, 16),
    it("c6i.2xlarge", 8, 16),
    it("c6a.2xlarge", 8, 16),
    it("r5.large", 2, 16),
    it("r5a.large", 2, 16),
    it("r6i.large", 2, 16),
    it("r6a.large", 2, 16),
    it("r7i.large", 2, 16),
    it("r5.xlarge", 4, 32),
    it("r6i.xlarge", 4, 32),
    it("r6a.xlarge", 4, 32),
];

/// Looks an instance type up by its API name.
pub fn instance_type(name: &str) -> Option<&'static InstanceType> {
    INSTANCE_TYPES.iter().find(|t| t.name == name)
}

/// Memory the ECS agent and the OS keep on an instance, so a task must leave this much free (MiB).
pub(crate) const INSTANCE_MEMORY_OVERHEAD_MIB: u32 = 512;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_sizes_must_fit_every_instance_type_of_the_group() {
        let large = vec!["m5.large".to_owned(), "c5.large".to_owned()];
        assert!(check_task_size(1024, 2048, &large).is_ok());
        assert!(check_task_size(512, 1536, &large).is_ok());
        // c5.large has 4 GiB: 4096 MiB leaves nothing for the ECS agent.
        assert!(check_task_size(1024, 4096, &large).is_err());
        assert!(check_task_size(4096, 2048, &large).is_err());
        assert!(check_task_size(64, 2048, &large).is_err());
        assert!(check_task_size(1024, 256, &large).is_err());
        // Unknown instance types are not held against the size.
        assert!(check_task_size(2048, 6144, &["x9.weird".to_owned()]).is_ok());
    }

    #[test]
    fn catalog_names_are_unique() {
        let mut names: Vec<&str> = INSTANCE_TYPES.iter().map(|t| t.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), INSTANCE_TYPES.len());
    }
}
