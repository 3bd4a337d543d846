//! Test databases: one migrated template per migration set, cloned with `CREATE DATABASE … TEMPLATE` per test.

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};

/// The server and maintenance database tests use (`BUTLER_TEST_DATABASE_URL`, default local trust auth).
fn server_url() -> String {
    std::env::var("BUTLER_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// The URL of database `name` on the test server.
pub fn url_for(name: &str) -> String {
    let server = server_url();
    let base = server.rsplit_once('/').map_or(server.as_str(), |(base, _)| base);
    format!("{base}/{name}")
}

/// Template name derived from the migration list, so a new migration makes a new template.
fn template_name() -> String {
    let names: Vec<String> = Migrator::migrations().iter().map(|m| m.name().to_owned()).collect();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in names.join(",").bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("butler_template_{hash:016x}")
}

async fn admin() -> DatabaseConnection {
    Database::connect(server_url()).await.expect("connect to the test PostgreSQL server")
}

/// Creates the migrated template once (across test processes: an advisory lock serialises them).
async fn ensure_template(admin: &DatabaseConnection) -> String {
    let template = template_name();
    // Session-level lock on a dedicated connection: the pool must not hand us another session in between.
    let lock_holder = Database::connect(server_url()).await.expect("lock connection");
    lock_holder.execute_unprepared("SELECT pg_advisory_lock(4242424242)").await.expect("lock");
    let exists = admin
        .query_one(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            format!("SELECT 1 FROM pg_database WHERE datname = '{template}'"),
        ))
        .await
        .expect("query pg_database")
        .is_some();
    if !exists {
        let building = format!("{template}_building");
        admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {building}")).await.expect("drop");
        admin.execute_unprepared(&format!("CREATE DATABASE {building}")).await.expect("create template");
        let db = Database::connect(url_for(&building)).await.expect("connect template");
        Migrator::up(&db, None).await.expect("migrate template");
        db.close().await.expect("close template");
        admin.execute_unprepared(&format!("ALTER DATABASE {building} RENAME TO {template}")).await.expect("rename");
    }
    lock_holder.execute_unprepared("SELECT pg_advisory_unlock(4242424242)").await.expect("unlock");
    lock_holder.close().await.ok();
    template
}

/// A new, migrated, empty database for one test.
pub async fn fresh_database() -> String {
    let admin = admin().await;
    let template = ensure_template(&admin).await;
    let name = format!("butler_test_{}", uuid::Uuid::new_v4().simple());
    admin.execute_unprepared(&format!("CREATE DATABASE {name} TEMPLATE {template}")).await.expect("clone the template");
    admin.close().await.ok();
    name
}

/// A new database with no migrations applied (for readiness failure tests).
pub async fn empty_database() -> String {
    let admin = admin().await;
    let name = format!("butler_test_{}", uuid::Uuid::new_v4().simple());
    admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create");
    admin.close().await.ok();
    name
}
