//! The members every resource's wire shape starts with, for the OpenAPI document: one macro,
//! so that each type's module writes only what is its own.

/// A resource's schema struct: read-only `id`, `name` and `type` (the type's name as the
/// example), then the type's members in the order the document lists them. The attributes
/// (doc, derives, serde) are the caller's.
#[macro_export]
macro_rules! resource_schema {
    ($(#[$attr:meta])* $name:ident, $type_name:tt, {$($(#[$meta:meta])* $field:ident: $ty:ty),* $(,)?}) => {
        $(#[$attr])*
        pub struct $name {
            #[schema(read_only)]
            pub id: Option<String>,
            #[schema(read_only)]
            pub name: Option<String>,
            #[schema(read_only, example = $type_name)]
            pub r#type: Option<String>,
            $($(#[$meta])* pub $field: $ty,)*
        }
    };
}
