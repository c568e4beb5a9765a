//! The catalogue of error codes Kiln answers: each code once, with its HTTP status and what it
//! means (the message when a call site has nothing more specific to say). Codes are ARM's
//! where ARM has one, so clients that switch on them keep working.

use actix_web::http::StatusCode;

macro_rules! catalogue {
    ($($code:ident => $status:ident, $template:literal;)*) => {
        /// Every error code Kiln's own code answers with.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $(#[doc = $template] $code,)*
        }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$code,)*];

            /// The code as it appears in `error.code` and `x-ms-error-code`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$code => stringify!($code),)*
                }
            }

            /// The status it is answered with.
            pub const fn status(self) -> StatusCode {
                match self {
                    $(ErrorCode::$code => StatusCode::$status,)*
                }
            }

            /// What it means, as a message.
            pub const fn template(self) -> &'static str {
                match self {
                    $(ErrorCode::$code => $template,)*
                }
            }
        }
    };
}

catalogue! {
    // Requests
    MissingApiVersionParameter => BAD_REQUEST, "The api-version query parameter (?api-version=) is required for all requests.";
    InvalidApiVersionParameter => BAD_REQUEST, "The api-version is not supported for this resource type.";
    InvalidRequestContent => BAD_REQUEST, "The request content was invalid.";
    DuplicateProperty => BAD_REQUEST, "The request content names a property twice.";
    UnsupportedMediaType => UNSUPPORTED_MEDIA_TYPE, "The request content must be JSON.";
    RequestBodyTooLarge => PAYLOAD_TOO_LARGE, "The request content is too large.";
    MethodNotAllowed => METHOD_NOT_ALLOWED, "The method is not served for this resource type.";
    InvalidSkipToken => BAD_REQUEST, "The continuation token ($skipToken) is invalid.";
    InvalidFilter => BAD_REQUEST, "The $filter is not supported.";
    InvalidFilterInQueryString => BAD_REQUEST, "The $filter is not supported.";
    InvalidParameter => BAD_REQUEST, "A query parameter is invalid.";
    NotFound => NOT_FOUND, "Nothing is served at this path.";
    // Ids, names and types
    InvalidResourceId => BAD_REQUEST, "The resource id is invalid.";
    InvalidResourceName => BAD_REQUEST, "The resource name is invalid.";
    InvalidResourceNamespace => BAD_REQUEST, "The resource namespace is not served.";
    InvalidResourceType => NOT_FOUND, "The resource type could not be found.";
    NoRegisteredProviderFound => BAD_REQUEST, "No registered resource provider was found for this api-version.";
    InvalidScope => BAD_REQUEST, "The scope is invalid.";
    // Resources
    ResourceNotFound => NOT_FOUND, "The resource was not found.";
    ResourceGroupNotFound => NOT_FOUND, "The resource group could not be found.";
    SubscriptionNotFound => NOT_FOUND, "The subscription could not be found.";
    SubscriptionAlreadyExists => CONFLICT, "The subscription already exists.";
    ParentResourceNotFound => NOT_FOUND, "The parent resource was not found.";
    ParentResourceBeingDeleted => CONFLICT, "The parent resource is being deleted.";
    ResourceBeingDeleted => CONFLICT, "The resource is being deleted.";
    ResourceGroupBeingDeleted => CONFLICT, "The resource group is being deleted.";
    ResourceGroupHasDependents => CONFLICT, "Resources outside the resource group depend on resources in it.";
    ReadOnlyResource => CONFLICT, "The resource is read-only here.";
    SharedConnectionReadOnly => FORBIDDEN, "A connection shared by the hub is read-only in the project.";
    Conflict => CONFLICT, "The resource was changed concurrently. Retry the request.";
    AnotherOperationInProgress => CONFLICT, "Another operation is in progress on the resource.";
    LocationRequired => BAD_REQUEST, "The location property is required for this definition.";
    InvalidResourceLocation => BAD_REQUEST, "A resource with the same name exists in another location.";
    LocationNotAvailableForResourceType => BAD_REQUEST, "The location is not offered for this resource type.";
    LocationNotAvailableForResourceGroup => BAD_REQUEST, "The location is not offered for resource groups.";
    InvalidTag => BAD_REQUEST, "A tag is invalid.";
    InvalidTagNameCharacters => BAD_REQUEST, "A tag name contains characters that are not allowed.";
    InvalidDisplayName => BAD_REQUEST, "The display name is invalid.";
    PropertyChangeNotAllowed => BAD_REQUEST, "The property cannot be changed once set.";
    InvalidProperty => BAD_REQUEST, "A property is invalid.";
    PreconditionFailed => PRECONDITION_FAILED, "Precondition failed.";
    PreconditionFailedEtagMismatch => PRECONDITION_FAILED, "The ETag does not match.";
    // Operations
    OperationNotFound => NOT_FOUND, "The operation could not be found.";
    OperationFailed => CONFLICT, "The operation failed.";
    OperationCanceled => CONFLICT, "The operation was canceled.";
    OperationTimedOut => CONFLICT, "The operation did not finish before its deadline.";
    ProvisioningRequestDeadLettered => CONFLICT, "The provisioning request could not be processed.";
    ProvisionerFailed => INTERNAL_SERVER_ERROR, "The provisioner failed unexpectedly.";
    DatabaseUnavailable => SERVICE_UNAVAILABLE, "The database is unavailable for a moment. Retry the request.";
    StorageBackendUnavailable => SERVICE_UNAVAILABLE, "The object store is unavailable.";
    // Workspaces
    InvalidWorkspaceKind => BAD_REQUEST, "The workspace kind is invalid.";
    HubResourceIdRequired => BAD_REQUEST, "A project needs properties.hubResourceId.";
    InvalidHubResourceId => BAD_REQUEST, "properties.hubResourceId is not a workspace id.";
    HubNotFound => BAD_REQUEST, "The hub does not exist.";
    NotAHub => BAD_REQUEST, "The workspace is not a hub.";
    HubInDifferentSubscription => BAD_REQUEST, "The hub is in another subscription.";
    HubBeingDeleted => CONFLICT, "The hub is being deleted.";
    HubHasProjects => CONFLICT, "The hub still has projects.";
    HubNotReady => CONFLICT, "The hub is not provisioned yet.";
    // Connections
    AuthTypeRequired => BAD_REQUEST, "properties.authType is required.";
    InvalidAuthType => BAD_REQUEST, "properties.authType is not supported.";
    CredentialsRequired => BAD_REQUEST, "The authType needs credentials.";
    InvalidCredentials => BAD_REQUEST, "The credentials do not fit the authType.";
    InvalidSharing => BAD_REQUEST, "The sharing settings are invalid.";
    ConnectionNameSharedByHub => CONFLICT, "The hub shares a connection of this name.";
    // Cognitive Services accounts and projects
    KindRequired => BAD_REQUEST, "The account needs a kind.";
    InvalidSkuName => BAD_REQUEST, "The sku is not offered for the account's kind.";
    InvalidSubdomainName => BAD_REQUEST, "The customSubDomainName is invalid.";
    CustomDomainInUse => CONFLICT, "The custom subdomain is already used by another account.";
    FlagMustBeSetForRestore => CONFLICT, "A soft-deleted account has this name: restore or purge it.";
    DeletedAccountNotFound => NOT_FOUND, "There is no soft-deleted account to restore.";
    InvalidKeyName => BAD_REQUEST, "keyName must be Key1 or Key2.";
    AccountNotReady => CONFLICT, "The account is still being provisioned.";
    ProjectManagementNotAllowed => BAD_REQUEST, "The account does not allow project management.";
    BadRequest => BAD_REQUEST, "The request is not valid for the resource in its current state.";
    // Model deployments and quota
    DeploymentModelNotSupported => BAD_REQUEST, "The model is not offered to the account in its region.";
    InvalidResourceProperties => BAD_REQUEST, "A property of the deployment is invalid for its model.";
    InvalidCapacity => BAD_REQUEST, "The capacity is out of the model's range for the sku.";
    InsufficientQuota => BAD_REQUEST, "The operation needs more quota than is available.";
    // Authentication and authorization
    AuthenticationFailed => UNAUTHORIZED, "Authentication failed.";
    InvalidAuthenticationToken => UNAUTHORIZED, "The access token is invalid.";
    ExpiredAuthenticationToken => UNAUTHORIZED, "The access token has expired.";
    InvalidAuthenticationTokenAudience => UNAUTHORIZED, "The access token has the wrong audience.";
    InvalidAuthenticationTokenIssuer => UNAUTHORIZED, "The access token has the wrong issuer.";
    AuthorizationFailed => FORBIDDEN, "The client does not have authorization to perform the action.";
    // Role assignments and definitions
    InvalidRoleAssignmentId => BAD_REQUEST, "The role assignment ID must be a GUID.";
    InvalidRoleAssignmentScope => BAD_REQUEST, "The scope in the body does not match the URL.";
    InvalidPrincipalId => BAD_REQUEST, "The principal ID must be a GUID.";
    InvalidPrincipalType => BAD_REQUEST, "The principal type is not valid.";
    InvalidCondition => BAD_REQUEST, "The condition is invalid.";
    InvalidConditionVersion => BAD_REQUEST, "The condition version is not supported.";
    RoleAssignmentExists => CONFLICT, "The role assignment already exists.";
    RoleAssignmentNotFound => NOT_FOUND, "The role assignment is not found.";
    RoleAssignmentUpdateNotPermitted => BAD_REQUEST, "Principal, role definition and scope cannot be updated.";
    RoleAssignmentLimitExceeded => BAD_REQUEST, "No more role assignments can be created.";
    RoleDefinitionDoesNotExist => BAD_REQUEST, "The role definition does not exist.";
    InvalidRoleDefinitionId => BAD_REQUEST, "The role definition ID must be a GUID.";
    InvalidRoleDefinitionName => BAD_REQUEST, "The role name is invalid.";
    InvalidRoleDefinitionScope => BAD_REQUEST, "The role definition scope is invalid.";
    InvalidAssignableScopes => BAD_REQUEST, "The assignable scopes are invalid.";
    InvalidActionOrNotAction => BAD_REQUEST, "An action or notAction is invalid.";
    InvalidAction => BAD_REQUEST, "The action is invalid.";
    RoleDefinitionHasNoPermissions => BAD_REQUEST, "The role definition has no permissions.";
    RoleDefinitionHasAssignments => CONFLICT, "The role definition is still assigned.";
    RoleDefinitionWithSameIdExists => CONFLICT, "A role definition with this ID exists.";
    RoleDefinitionWithSameNameExists => CONFLICT, "A role definition with this name exists.";
    RoleDefinitionUpdateNotPermitted => FORBIDDEN, "Built-in role definitions cannot be changed.";
    RoleDefinitionDeleteNotPermitted => FORBIDDEN, "Built-in role definitions cannot be deleted.";
    // The service
    InternalServerError => INTERNAL_SERVER_ERROR, "The server encountered an internal error. Retry the request.";
    ServiceUnavailable => SERVICE_UNAVAILABLE, "The service is temporarily unavailable.";
    RequestUriTooLong => URI_TOO_LONG, "The request URI is too long.";
    RequestHeadersTooLarge => REQUEST_HEADER_FIELDS_TOO_LARGE, "The request headers are too large.";
}

impl From<ErrorCode> for String {
    fn from(code: ErrorCode) -> Self {
        code.as_str().to_owned()
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_pascal_case_and_unique_and_errors_are_4xx_or_5xx() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let text = code.as_str();
            assert!(seen.insert(text), "{text} twice");
            assert!(text.starts_with(|c: char| c.is_ascii_uppercase()), "{text}");
            assert!(code.status().is_client_error() || code.status().is_server_error());
            assert!(code.template().ends_with('.'), "{text}");
        }
    }
}
