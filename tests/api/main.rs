//! The integration test binary: every test spawns a real Kiln on SQLite and on PostgreSQL.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails loudly at the first thing that is wrong"
)]

mod helpers;
mod idp;

mod auth;
mod authorization;
mod cognitive;
mod connections;
mod contract;
mod events;
mod faults;
mod hardening;
mod identity;
mod openapi;
mod ops;
mod platform;
mod process;
mod provisioning;
mod rabbitmq;
mod resource_groups;
mod security;
mod subscriptions;
mod teardown;
mod type_contract;
mod widgets;
mod workspaces;
