//! Authorization benchmark (run by `bench/authz.sh`, which starts PostgreSQL): for one size
//! of the policy, in a process of its own so its memory is its own,
//!
//! - writes N role assignments into a fresh database (10k principals; 1k hubs × 100
//!   projects in 100 resource groups; scopes 80% project, 15% hub, 4% group, 1% subscription;
//!   built-in roles),
//! - reloads the policy from the database (`Policy::load`: what a replica does on a version
//!   change) and reports the time and the resident memory it added,
//! - times single authorization decisions (`PolicySnapshot::decide` over a project's scope
//!   walk): half for a principal and scope drawn from the assignments (mostly allowed), half
//!   random (mostly denied); and the first decision per (role, action) on a fresh snapshot,
//!   which asks casbin,
//! - times decisions on another thread while a full reload runs, to show reloads do not
//!   block them.
//!
//! Prints one JSON object on stdout.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark stops at the first failure"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use kiln::authz::Policy;
use kiln::authz::policy::{PolicySnapshot, Query};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::json;

const PRINCIPALS: usize = 10_000;
const HUBS: usize = 1_000;
const PROJECTS_PER_HUB: usize = 100;
const GROUPS: usize = 100;
const ROLES: [&str; 6] = [
    "acdd72a7-3385-48ef-bd42-f606fba81ae7", // Reader
    "b24988ac-6180-42a0-ab88-20f7382dd24c", // Contributor
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635", // Owner
    "64702f94-c441-49e6-a78b-ef80e0188fee", // Azure AI Developer
    "b78c5d69-af96-48a3-bf8d-a8b4d589de94", // Azure AI Administrator
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9", // User Access Administrator
];
const ACTIONS: [&str; 5] = [
    "Microsoft.MachineLearningServices/workspaces/read",
    "Microsoft.MachineLearningServices/workspaces/write",
    "Microsoft.MachineLearningServices/workspaces/delete",
    "Microsoft.MachineLearningServices/workspaces/connections/listsecrets/action",
    "Microsoft.Authorization/roleAssignments/write",
];
const SUB: &str = "/subscriptions/00000000-0000-0000-0000-00000000b0b0";

fn principal(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012x}")
}

fn group(h: usize) -> String {
    format!("{SUB}/resourcegroups/rg{}", h % GROUPS)
}

fn hub(h: usize) -> String {
    format!(
        "{}/providers/microsoft.machinelearningservices/workspaces/hub{h}",
        group(h)
    )
}

fn project(h: usize, p: usize) -> String {
    format!(
        "{}/providers/microsoft.machinelearningservices/workspaces/hub{h}-p{p}",
        group(h)
    )
}

/// The scope walk of a project: itself, its hub, its group, the subscription, the root.
fn walk(h: usize, p: usize) -> Vec<String> {
    vec![
        project(h, p),
        hub(h),
        group(h),
        SUB.to_owned(),
        "/".to_owned(),
    ]
}

/// (principal, scope, role, hub, project) of assignment `i`.
fn assignment(rng: &mut StdRng) -> (usize, String, &'static str, usize, usize) {
    let who = rng.gen_range(0..PRINCIPALS);
    let h = rng.gen_range(0..HUBS);
    let p = rng.gen_range(0..PROJECTS_PER_HUB);
    let role = ROLES[rng.gen_range(0..ROLES.len())];
    let scope = match rng.gen_range(0..100) {
        0..80 => project(h, p),
        80..95 => hub(h),
        95..99 => group(h),
        _ => SUB.to_owned(),
    };
    (who, scope, role, h, p)
}

async fn fill(db: &DatabaseConnection, n: usize) -> Vec<(usize, usize, usize)> {
    let mut rng = StdRng::seed_from_u64(42);
    let mut samples = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut rows = Vec::with_capacity(1000);
    let mut written = 0;
    while written < n {
        let (who, scope, role, h, p) = assignment(&mut rng);
        if !seen.insert((who, scope.clone(), role)) {
            continue;
        }
        if samples.len() < 10_000 {
            samples.push((who, h, p));
        }
        let name = uuid::Uuid::from_u128(written as u128 + 1).to_string();
        rows.push(format!(
            "('{name}', '{scope}/providers/Microsoft.Authorization/roleAssignments/{name}', '{scope}', '{scope}', '{role}', \
             '{SUB}/providers/Microsoft.Authorization/roleDefinitions/{role}', '{}', 'User', 0, 0, 'bench', 'bench')",
            principal(who)
        ));
        written += 1;
        if rows.len() == 1000 || written == n {
            db.execute_unprepared(&format!(
                "INSERT INTO role_assignments (name_key, id, scope_key, scope, role_definition_key, role_definition_id, \
                 principal_id, principal_type, created_on, updated_on, created_by, updated_by) VALUES {}",
                rows.join(",")
            ))
            .await
            .expect("insert assignments");
            rows.clear();
        }
    }
    db.execute_unprepared("UPDATE authz_state SET version = version + 1")
        .await
        .expect("bump version");
    samples
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn percentile(sorted: &[Duration], q: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

struct Decisions {
    p50_us: f64,
    p99_us: f64,
    max_us: f64,
    allowed: usize,
    count: usize,
}

fn decide_many(
    snapshot: &PolicySnapshot,
    samples: &[(usize, usize, usize)],
    count: usize,
    seed: u64,
) -> Decisions {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut times = Vec::with_capacity(count);
    let mut allowed = 0;
    for i in 0..count {
        let (who, h, p) = if i % 2 == 0 && !samples.is_empty() {
            samples[rng.gen_range(0..samples.len())]
        } else {
            (
                rng.gen_range(0..PRINCIPALS),
                rng.gen_range(0..HUBS),
                rng.gen_range(0..PROJECTS_PER_HUB),
            )
        };
        let subjects = [principal(who)];
        let walk = walk(h, p);
        let action = ACTIONS[rng.gen_range(0..ACTIONS.len())];
        let started = Instant::now();
        let grant = snapshot.decide(&Query {
            subjects: &subjects,
            action,
            data: false,
            walk: &walk,
            request: None,
        });
        times.push(started.elapsed());
        allowed += usize::from(grant.is_some());
    }
    times.sort();
    Decisions {
        p50_us: percentile(&times, 0.5),
        p99_us: percentile(&times, 0.99),
        max_us: times.last().map_or(0.0, |d| d.as_secs_f64() * 1e6),
        allowed,
        count,
    }
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip_while(|a| a != "--size");
    args.next();
    let n: usize = args.next().and_then(|s| s.parse().ok()).expect("--size N");
    let admin_url =
        std::env::var("KILN_BENCH_DATABASE_URL").expect("KILN_BENCH_DATABASE_URL (PostgreSQL)");
    let admin = Database::connect(&admin_url).await.expect("connect");
    let name = format!("kiln_authz_{n}");
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}"))
        .await
        .unwrap();
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let url = format!("{}/{name}", admin_url.rsplit_once('/').unwrap().0);
    let db = Database::connect(&url)
        .await
        .expect("connect bench database");
    kiln::store::migrate(&db).await.expect("migrate");
    let started = Instant::now();
    let samples = fill(&db, n).await;
    let fill_s = started.elapsed().as_secs_f64();

    // Full load from the database, as a replica does.
    let rss_before = rss_bytes();
    let started = Instant::now();
    let policy = Arc::new(Policy::load(db.clone()).await.expect("load policy"));
    let load_ms = started.elapsed().as_secs_f64() * 1e3;
    let rss_after = rss_bytes();
    let snapshot = policy.snapshot();
    assert_eq!(snapshot.assignment_count(), n);

    // Cold: the first decision per (role, action) asks casbin.
    let cold = {
        use kiln::authz::policy::Assignment;
        let holders = ROLES.iter().map(|role| Assignment {
            name: format!("cold-{role}"),
            subject: format!("holder-{role}"),
            role: (*role).to_owned(),
            scope: "/".to_owned(),
            condition: None,
        });
        let fresh = PolicySnapshot::build(0, vec![], holders).await.unwrap();
        let mut times = Vec::new();
        for role in ROLES {
            for action in ACTIONS {
                let subjects = [format!("holder-{role}")];
                let walk = ["/".to_owned()];
                let started = Instant::now();
                let _ = fresh.decide(&Query {
                    subjects: &subjects,
                    action,
                    data: false,
                    walk: &walk,
                    request: None,
                });
                times.push(started.elapsed());
            }
        }
        times.sort();
        times
    };
    // Warm-up, then the measured decisions.
    decide_many(&snapshot, &samples, 20_000, 1);
    let warm = decide_many(&snapshot, &samples, 200_000, 2);

    // Decisions on another thread while a full reload runs.
    db.execute_unprepared("UPDATE authz_state SET version = version + 1")
        .await
        .unwrap();
    let running = Arc::new(AtomicBool::new(true));
    let probe = {
        let (policy, running, samples) = (policy.clone(), running.clone(), samples.clone());
        std::thread::spawn(move || {
            let mut times = Vec::new();
            let mut rng = StdRng::seed_from_u64(3);
            while running.load(Ordering::Relaxed) {
                let (who, h, p) = samples[rng.gen_range(0..samples.len())];
                let subjects = [principal(who)];
                let walk = walk(h, p);
                let started = Instant::now();
                let snapshot = policy.snapshot();
                let _ = snapshot.decide(&Query {
                    subjects: &subjects,
                    action: ACTIONS[0],
                    data: false,
                    walk: &walk,
                    request: None,
                });
                times.push(started.elapsed());
            }
            times.sort();
            times
        })
    };
    let started = Instant::now();
    assert!(
        policy.refresh().await.expect("reload"),
        "the version moved, so it reloads"
    );
    let reload_ms = started.elapsed().as_secs_f64() * 1e3;
    running.store(false, Ordering::Relaxed);
    let during_reload = probe.join().unwrap();
    drop(snapshot);

    println!(
        "{}",
        json!({
            "assignments": n,
            "fill_s": fill_s,
            "load_ms": load_ms,
            "rss_added_mib": (rss_after.saturating_sub(rss_before)) as f64 / (1024.0 * 1024.0),
            "rss_total_mib": rss_after as f64 / (1024.0 * 1024.0),
            "decision_p50_us": warm.p50_us,
            "decision_p99_us": warm.p99_us,
            "decision_max_us": warm.max_us,
            "decisions": warm.count,
            "allowed": warm.allowed,
            "cold_decision_p50_us": percentile(&cold, 0.5),
            "cold_decision_max_us": percentile(&cold, 1.0),
            "reload_ms": reload_ms,
            "decisions_during_reload": during_reload.len(),
            "decision_during_reload_p99_us": percentile(&during_reload, 0.99),
            "decision_during_reload_max_us": percentile(&during_reload, 1.0),
        })
    );
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
        .ok();
}
