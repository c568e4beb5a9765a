//! The teardown check itself: a dropped `TestApp` fails its test when an operation is left
//! running, unless the test said it leaves work undone.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::helpers::{Backend, TestApp};
use kiln::store::{now_millis, operation};

/// A hub whose (finished) operation is put back InProgress under a live lease of a worker
/// that does not exist: nothing will ever end it.
async fn app_with_a_hung_operation() -> TestApp {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.create_group("rg").await;
    app.hub("rg", "hub1").await;
    let far = now_millis() + 600_000;
    let hung = operation::Entity::update_many()
        .col_expr(operation::Column::Status, Expr::value("InProgress"))
        .col_expr(operation::Column::LeaseOwner, Expr::value("worker-hung"))
        .col_expr(operation::Column::LeaseUntil, Expr::value(far))
        .col_expr(operation::Column::DeadlineAt, Expr::value(far))
        .filter(operation::Column::ResourceId.contains("hub1"))
        .exec(&app.db)
        .await
        .unwrap();
    assert_eq!(hung.rows_affected, 1);
    app
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[should_panic(expected = "the test to leave no operation running")]
async fn an_operation_left_running_fails_the_test() {
    app_with_a_hung_operation().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_may_say_it_leaves_work_undone() {
    app_with_a_hung_operation().await.expect_unfinished();
}
