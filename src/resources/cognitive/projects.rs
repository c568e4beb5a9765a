//! Foundry project rules: a project lives only on an account with
//! `allowProjectManagement: true`, goes with it, and shows its Foundry endpoint and whether
//! it is the account's default project (the one set, else the first).

use std::sync::Arc;

use async_trait::async_trait;
use sea_orm::DatabaseConnection;
use serde_json::json;

use super::accounts::{DataPlane, default_project, project_names};
use super::{PROJECTS, provisioner::ProjectProvisioner};
use crate::arm::envelope::{self, Spec};
use crate::arm::registry::{PrepareContext, Prepared, Rendered, ResourceKind, TypeDescriptor};
use crate::config::TypeSettings;
use crate::error::{ArmError, ErrorCode};
use crate::provisioners::Provisioner;
use crate::store::resources::{self, RowLock};

const READ_ONLY: &[&str] = &["provisioningState", "endpoints", "isDefault"];

pub struct Projects {
    pub(super) settings: Arc<TypeSettings>,
}

#[async_trait]
impl ResourceKind for Projects {
    fn descriptor(&self) -> &'static TypeDescriptor {
        &PROJECTS
    }

    fn provisioner(&self) -> Option<Arc<dyn Provisioner>> {
        Some(Arc::new(ProjectProvisioner))
    }

    async fn prepare(&self, cx: &PrepareContext<'_>, mut spec: Spec) -> Result<Prepared, ArmError> {
        let existing = cx.existing;
        let account_key = cx.id.parent().map(|p| p.key()).unwrap_or_default();
        // FOR KEY SHARE: the account's delete waits for this write, then takes the project along.
        let account = resources::lock(cx.tx, &account_key, RowLock::KeyShare).await?;
        let allowed = account.as_ref().is_some_and(|a| {
            a.body["properties"]["allowProjectManagement"].as_bool() == Some(true)
        });
        if account.is_some() && !allowed {
            return Err(ArmError::new(
                ErrorCode::ProjectManagementNotAllowed,
                "Projects can only be created on an account with properties.allowProjectManagement set to true. Update the account first.",
            ));
        }
        envelope::strip(&mut spec.properties, READ_ONLY);
        // The provisioner gave the project its identity: a replace without one keeps it.
        if spec.identity.is_none() {
            spec.identity = existing.and_then(|e| e.identity.clone());
        }
        Ok(Prepared::spec(spec))
    }

    async fn decorate(
        &self,
        db: &DatabaseConnection,
        items: &mut [Rendered],
    ) -> Result<(), ArmError> {
        let mut account_keys: Vec<String> =
            items.iter().map(|i| i.row.parent_key.clone()).collect();
        account_keys.sort_unstable();
        account_keys.dedup();
        let accounts = resources::by_keys(db, account_keys.clone()).await?;
        let siblings = resources::children_of_any(db, account_keys, &PROJECTS.type_key()).await?;
        let plane = DataPlane {
            domain: self.settings.data_plane_domain.as_deref(),
        };
        for item in items.iter_mut() {
            let Some(account) = accounts.iter().find(|a| a.id_key == item.row.parent_key) else {
                continue;
            };
            let names = project_names(&siblings, &account.id_key);
            let is_default = default_project(&account.body, &names)
                .is_some_and(|d| d.eq_ignore_ascii_case(&item.row.name));
            let subdomain = account.body["properties"]["customSubDomainName"].as_str();
            let endpoints = plane.project(subdomain, &item.row.name);
            if let Some(properties) = envelope::properties_mut(&mut item.json) {
                properties.insert("isDefault".into(), json!(is_default));
                properties.insert("endpoints".into(), json!(endpoints));
            }
        }
        Ok(())
    }
}
