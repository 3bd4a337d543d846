//! Authorization: the one place that decides. Another tenant's resources are 404 (never 403, never data);
//! a role too low is 403; platform routes need a platform admin.

use super::{Caller, Principal};
use crate::auth::Role;
use crate::error::ApiError;

impl Caller {
    /// The caller's role in `tenant` (platform admins are admins everywhere).
    pub(crate) fn tenant_role(&self, tenant: &str) -> Option<Role> {
        match &self.principal {
            Principal::User { platform_admin: true, .. } => Some(Role::Admin),
            Principal::User { memberships, .. } => memberships.get(tenant).copied(),
            Principal::Token { tenant: own, role, .. } => (own == tenant).then_some(*role),
        }
    }

    /// Requires at least `needed` in `tenant`.
    pub(crate) fn require(&self, tenant: &str, needed: Role) -> Result<(), ApiError> {
        match self.tenant_role(tenant) {
            // Indistinguishable from a tenant that does not exist, to the caller; audited as a probe.
            None => Err(ApiError::HiddenTenant {
                detail: format!("tenant {tenant:?} not found"),
                actor: self.actor(),
                actor_kind: self.actor_kind(),
                tenant: tenant.to_owned(),
            }),
            Some(role) if role < needed => Err(self.forbidden(
                Some(tenant),
                format!("this needs the {} role in tenant {tenant:?}; you have {}", needed.as_str(), role.as_str()),
            )),
            Some(_) => Ok(()),
        }
    }

    /// Requires a platform admin (a person, never a token).
    pub(crate) fn require_platform_admin(&self) -> Result<(), ApiError> {
        if self.is_platform_admin() {
            Ok(())
        } else {
            Err(self.forbidden(None, "this needs a platform admin".into()))
        }
    }

    /// Whether the caller is a platform admin.
    pub fn is_platform_admin(&self) -> bool {
        matches!(self.principal, Principal::User { platform_admin: true, .. })
    }

    /// A 403 that the audit layer can attribute.
    pub fn forbidden(&self, tenant: Option<&str>, detail: String) -> ApiError {
        ApiError::Forbidden {
            detail,
            actor: self.actor(),
            actor_kind: self.actor_kind(),
            tenant: tenant.map(str::to_owned),
        }
    }
}
