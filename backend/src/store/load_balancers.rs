//! The pool of shared load balancers per cloud profile, and where each environment is placed on it. Placement
//! and release take a per-profile advisory lock, so two replicas never fill one slot past its capacity, never
//! open two new slots for one need, and never place onto a load balancer being retired.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement, TransactionTrait};

use super::StoreError;
use crate::domain::ingress::load_balancer_name;

/// One load balancer of a pool, with what AWS told Butler about it once made.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct BalancerRow {
    pub profile: String,
    pub slot: i32,
    pub name: String,
    pub arn: Option<String>,
    pub dns_name: Option<String>,
    pub canonical_zone_id: Option<String>,
    pub security_group_id: Option<String>,
    pub https_listener_arn: Option<String>,
    pub http_listener_arn: Option<String>,
    pub empty_since: Option<DateTime<Utc>>,
    pub retiring: bool,
}

/// Where an environment is placed: its load balancer and its listener rule's priority there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub balancer: BalancerRow,
    pub priority: i32,
}

/// What Butler learnt making a load balancer (recorded so later passes need not ask AWS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MadeBalancer {
    pub arn: String,
    pub dns_name: String,
    pub canonical_zone_id: String,
    pub security_group_id: String,
    pub https_listener_arn: String,
    pub http_listener_arn: String,
}

const COLUMNS: &str = "profile, slot, name, arn, dns_name, canonical_zone_id, security_group_id, https_listener_arn, \
                       http_listener_arn, empty_since, retiring";

fn statement(sql: &str, values: Vec<sea_orm::Value>) -> Statement {
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

async fn lock_pool(db: &impl ConnectionTrait, profile: &str) -> Result<(), StoreError> {
    let sql = "SELECT pg_advisory_xact_lock(hashtext('butler-load-balancer-pool'), hashtext($1))";
    db.execute(statement(sql, vec![profile.into()])).await?;
    Ok(())
}

async fn balancer(db: &impl ConnectionTrait, profile: &str, slot: i32) -> Result<BalancerRow, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM load_balancers WHERE profile = $1 AND slot = $2");
    BalancerRow::find_by_statement(statement(&sql, vec![profile.into(), slot.into()]))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound)
}

/// The environment's placement, if it has one.
pub async fn placement_of(db: &impl ConnectionTrait, uid: uuid::Uuid) -> Result<Option<Placement>, StoreError> {
    #[derive(FromQueryResult)]
    struct Row {
        profile: String,
        slot: i32,
        priority: i32,
    }
    let sql = "SELECT profile, slot, priority FROM ingress_placements WHERE environment_uid = $1";
    let Some(row) = Row::find_by_statement(statement(sql, vec![uid.into()])).one(db).await? else {
        return Ok(None);
    };
    let balancer = balancer(db, &row.profile, row.slot).await?;
    Ok(Some(Placement { balancer, priority: row.priority }))
}

/// Places an environment on a load balancer of `profile` with room (fewer than `capacity` environments, not
/// retiring), the lowest slot first, opening the next slot when all are full. An environment already placed
/// keeps its place: it is never moved silently.
pub async fn place(
    db: &(impl ConnectionTrait + TransactionTrait),
    profile: &str,
    (tenant, name, uid): (&str, &str, uuid::Uuid),
    capacity: u32,
) -> Result<Placement, StoreError> {
    #[derive(FromQueryResult)]
    struct Slot {
        slot: i32,
        placed: i64,
    }
    if let Some(placement) = placement_of(db, uid).await? {
        return Ok(placement);
    }
    let txn = db.begin().await?;
    lock_pool(&txn, profile).await?;
    if let Some(placement) = placement_of(&txn, uid).await? {
        txn.commit().await?;
        return Ok(placement);
    }
    let sql = "SELECT b.slot, count(p.environment_uid) AS placed FROM load_balancers b
               LEFT JOIN ingress_placements p ON p.profile = b.profile AND p.slot = b.slot
               WHERE b.profile = $1 AND NOT b.retiring GROUP BY b.slot ORDER BY b.slot";
    let slots = Slot::find_by_statement(statement(sql, vec![profile.into()])).all(&txn).await?;
    let room = slots.iter().find(|slot| slot.placed < i64::from(capacity)).map(|slot| slot.slot);
    let slot = match room {
        Some(slot) => slot,
        None => {
            // Past every slot ever used (a retiring one may still be going away under its name).
            #[derive(FromQueryResult)]
            struct Next {
                next: i32,
            }
            let sql = "SELECT COALESCE(max(slot) + 1, 1) AS next FROM load_balancers WHERE profile = $1";
            let next = Next::find_by_statement(statement(sql, vec![profile.into()]))
                .one(&txn)
                .await?
                .map_or(1, |row| row.next);
            let sql = "INSERT INTO load_balancers (profile, slot, name) VALUES ($1, $2, $3)";
            txn.execute(statement(sql, vec![profile.into(), next.into(), load_balancer_name(profile, next).into()]))
                .await?;
            next
        }
    };
    // The lowest priority free on this load balancer's listener.
    let sql = "SELECT COALESCE(min(candidate), 1) AS priority FROM generate_series(1, $3) AS candidate
               WHERE candidate NOT IN (SELECT priority FROM ingress_placements WHERE profile = $1 AND slot = $2)";
    #[derive(FromQueryResult)]
    struct Priority {
        priority: i32,
    }
    let bound = i32::try_from(capacity.max(1) * 2).unwrap_or(i32::MAX);
    let priority = Priority::find_by_statement(statement(sql, vec![profile.into(), slot.into(), bound.into()]))
        .one(&txn)
        .await?
        .map_or(1, |row| row.priority);
    let sql = "INSERT INTO ingress_placements (environment_uid, profile, slot, priority, tenant, name)
               VALUES ($1, $2, $3, $4, $5, $6)";
    txn.execute(statement(
        sql,
        vec![uid.into(), profile.into(), slot.into(), priority.into(), tenant.into(), name.into()],
    ))
    .await?;
    let sql = "UPDATE load_balancers SET empty_since = NULL WHERE profile = $1 AND slot = $2";
    txn.execute(statement(sql, vec![profile.into(), slot.into()])).await?;
    let balancer = balancer(&txn, profile, slot).await?;
    txn.commit().await?;
    Ok(Placement { balancer, priority })
}

/// Records what AWS said about a made load balancer.
pub async fn record_made(
    db: &impl ConnectionTrait,
    profile: &str,
    slot: i32,
    made: &MadeBalancer,
) -> Result<(), StoreError> {
    let sql = "UPDATE load_balancers SET arn = $3, dns_name = $4, canonical_zone_id = $5, security_group_id = $6,
               https_listener_arn = $7, http_listener_arn = $8 WHERE profile = $1 AND slot = $2";
    db.execute(statement(
        sql,
        vec![
            profile.into(),
            slot.into(),
            made.arn.clone().into(),
            made.dns_name.clone().into(),
            made.canonical_zone_id.clone().into(),
            made.security_group_id.clone().into(),
            made.https_listener_arn.clone().into(),
            made.http_listener_arn.clone().into(),
        ],
    ))
    .await?;
    Ok(())
}

/// Releases an environment's place (its rule, record and target group are gone); a load balancer left empty
/// starts its grace period.
pub async fn release(db: &(impl ConnectionTrait + TransactionTrait), uid: uuid::Uuid) -> Result<(), StoreError> {
    let Some(placement) = placement_of(db, uid).await? else { return Ok(()) };
    let profile = placement.balancer.profile.clone();
    let txn = db.begin().await?;
    lock_pool(&txn, &profile).await?;
    txn.execute(statement("DELETE FROM ingress_placements WHERE environment_uid = $1", vec![uid.into()])).await?;
    let sql = "UPDATE load_balancers b SET empty_since = now()
               WHERE b.profile = $1 AND b.slot = $2 AND b.empty_since IS NULL
                 AND NOT EXISTS (SELECT 1 FROM ingress_placements p WHERE p.profile = b.profile AND p.slot = b.slot)";
    txn.execute(statement(sql, vec![profile.into(), placement.balancer.slot.into()])).await?;
    txn.commit().await?;
    Ok(())
}

/// Marks the load balancers empty since before `cutoff` as retiring (no placement lands on them any more) and
/// returns every retiring one, for the pool sweep to delete.
pub async fn retire_empty(
    db: &(impl ConnectionTrait + TransactionTrait),
    cutoff: DateTime<Utc>,
) -> Result<Vec<BalancerRow>, StoreError> {
    #[derive(FromQueryResult)]
    struct Profile {
        profile: String,
    }
    let sql = "SELECT DISTINCT profile FROM load_balancers WHERE empty_since < $1 OR retiring";
    let profiles = Profile::find_by_statement(statement(sql, vec![cutoff.into()])).all(db).await?;
    let mut retiring = Vec::new();
    for Profile { profile } in profiles {
        let txn = db.begin().await?;
        lock_pool(&txn, &profile).await?;
        let sql = "UPDATE load_balancers b SET retiring = true
                   WHERE b.profile = $1 AND b.empty_since < $2
                     AND NOT EXISTS (SELECT 1 FROM ingress_placements p WHERE p.profile = b.profile AND p.slot = b.slot)";
        txn.execute(statement(sql, vec![profile.clone().into(), cutoff.into()])).await?;
        let sql = format!("SELECT {COLUMNS} FROM load_balancers WHERE profile = $1 AND retiring ORDER BY slot");
        retiring.extend(BalancerRow::find_by_statement(statement(&sql, vec![profile.into()])).all(&txn).await?);
        txn.commit().await?;
    }
    Ok(retiring)
}

/// Forgets a retired load balancer once AWS has nothing of it left.
pub async fn forget(db: &impl ConnectionTrait, profile: &str, slot: i32) -> Result<(), StoreError> {
    let sql = "DELETE FROM load_balancers WHERE profile = $1 AND slot = $2 AND retiring";
    db.execute(statement(sql, vec![profile.into(), slot.into()])).await?;
    Ok(())
}

/// Every load balancer of `profile`'s pool, by slot.
pub async fn in_profile(db: &impl ConnectionTrait, profile: &str) -> Result<Vec<BalancerRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM load_balancers WHERE profile = $1 ORDER BY slot");
    Ok(BalancerRow::find_by_statement(statement(&sql, vec![profile.into()])).all(db).await?)
}
