//! The tags every Butler resource carries: who manages it and which environment it belongs to.

use std::collections::BTreeMap;

/// `butler:managed-by`
pub(crate) const MANAGED_BY: &str = "butler:managed-by";
/// `butler:tenant`
pub(crate) const TENANT: &str = "butler:tenant";
/// `butler:environment`
pub(crate) const ENVIRONMENT: &str = "butler:environment";
/// `butler:uid` — the environment's uid: the key a lookup-before-create searches by.
pub const UID: &str = "butler:uid";
/// `butler:profile` — on resources shared by a cloud profile (the namespace, emulator networks).
pub(crate) const PROFILE: &str = "butler:profile";
/// `butler:pool-slot` — on a profile's shared load balancer and its security group: which slot of the pool.
pub(crate) const POOL_SLOT: &str = "butler:pool-slot";

/// The tag set of one environment's resources.
pub fn environment_tags(tenant: &str, environment: &str, uid: &uuid::Uuid) -> BTreeMap<String, String> {
    BTreeMap::from([
        (MANAGED_BY.to_owned(), "butler".to_owned()),
        (TENANT.to_owned(), tenant.to_owned()),
        (ENVIRONMENT.to_owned(), environment.to_owned()),
        (UID.to_owned(), uid.to_string()),
    ])
}

/// The tag set of a profile's shared resources.
pub fn profile_tags(profile: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(MANAGED_BY.to_owned(), "butler".to_owned()), (PROFILE.to_owned(), profile.to_owned())])
}
