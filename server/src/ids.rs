//! Newtype ids, so that ids of different things cannot be swapped.
//!
//! Ids that are UUIDs (registrations, threads, comments, versions, API tokens) are made by
//! [`uuid_id!`]: stored as their hyphenated text, bound and read by sqlx on any engine
//! whose text type `String` is, parsed from paths with `FromStr` (a malformed id is simply
//! not found). Yjs client IDs are `samen_crdt::ClientId`.

use std::fmt;
use std::str::FromStr;

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Database, Decode, Encode, Type};
use uuid::Uuid;

/// Defines a UUID id type with its text form, serde and sqlx conversions.
macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh random id.
            pub fn new() -> Self {
                $name(Uuid::new_v4())
            }

            /// The id's 128 bits.
            pub fn as_u128(self) -> u128 {
                self.0.as_u128()
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map($name)
            }
        }

        impl<DB: Database> Type<DB> for $name
        where
            String: Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <String as Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <String as Type<DB>>::compatible(ty)
            }
        }

        impl<'q, DB: Database> Encode<'q, DB> for $name
        where
            String: Encode<'q, DB>,
        {
            fn encode_by_ref(&self, buf: &mut DB::ArgumentBuffer) -> Result<IsNull, BoxDynError> {
                <String as Encode<'q, DB>>::encode(self.to_string(), buf)
            }
        }

        impl<'r, DB: Database> Decode<'r, DB> for $name
        where
            &'r str: Decode<'r, DB>,
        {
            fn decode(value: DB::ValueRef<'r>) -> Result<Self, BoxDynError> {
                Ok(<&'r str as Decode<'r, DB>>::decode(value)?.parse()?)
            }
        }
    };
}

uuid_id! {
    /// A registration (and so its CRDT document).
    RegistrationId
}

uuid_id! {
    /// A meeting (schoolbeeldoverleg), and so its CRDT document.
    MeetingId
}

uuid_id! {
    /// The collaboration agreements of a school and an LSC, and so their CRDT document.
    AgreementId
}

uuid_id! {
    /// A CRDT document: a registration's, a meeting's or a school and LSC's agreements (each
    /// document has the id of what it is the content of, and ids are UUIDs, so they never
    /// meet).
    DocId
}

impl From<RegistrationId> for DocId {
    fn from(id: RegistrationId) -> Self {
        DocId(id.0)
    }
}

impl From<MeetingId> for DocId {
    fn from(id: MeetingId) -> Self {
        DocId(id.0)
    }
}

impl From<AgreementId> for DocId {
    fn from(id: AgreementId) -> Self {
        DocId(id.0)
    }
}

impl From<DocId> for RegistrationId {
    /// The registration a document would be the content of (if it is one: look it up).
    fn from(id: DocId) -> Self {
        RegistrationId(id.0)
    }
}

impl From<DocId> for MeetingId {
    /// The meeting a document would be the content of (if it is one: look it up).
    fn from(id: DocId) -> Self {
        MeetingId(id.0)
    }
}

impl From<DocId> for AgreementId {
    /// The agreements a document would be the content of (if they are: look them up).
    fn from(id: DocId) -> Self {
        AgreementId(id.0)
    }
}

uuid_id! {
    /// A file kept in the dossier (all its versions).
    FileId
}

uuid_id! {
    /// One version of a file.
    FileVersionId
}

uuid_id! {
    /// An export made in the background.
    ExportId
}

uuid_id! {
    /// A comment thread on a registration.
    ThreadId
}

uuid_id! {
    /// One comment of a thread.
    CommentId
}

uuid_id! {
    /// A version (snapshot) of a registration's document.
    SnapshotId
}

uuid_id! {
    /// An API token (its id, never its secret).
    TokenId
}

/// An institution (school, CLB) as the database numbers it; never shown to users, who know
/// a school by its institution number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstitutionId(pub i64);

impl fmt::Display for InstitutionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<DB: Database> Type<DB> for InstitutionId
where
    i64: Type<DB>,
{
    fn type_info() -> DB::TypeInfo {
        <i64 as Type<DB>>::type_info()
    }

    fn compatible(ty: &DB::TypeInfo) -> bool {
        <i64 as Type<DB>>::compatible(ty)
    }
}

impl<'q, DB: Database> Encode<'q, DB> for InstitutionId
where
    i64: Encode<'q, DB>,
{
    fn encode_by_ref(&self, buf: &mut DB::ArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <i64 as Encode<'q, DB>>::encode(self.0, buf)
    }
}

impl<'r, DB: Database> Decode<'r, DB> for InstitutionId
where
    i64: Decode<'r, DB>,
{
    fn decode(value: DB::ValueRef<'r>) -> Result<Self, BoxDynError> {
        <i64 as Decode<'r, DB>>::decode(value).map(InstitutionId)
    }
}

/// One WebSocket connection, unique within a server process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

impl ConnId {
    /// The next connection id of this process.
    pub fn next() -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        ConnId(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
    }
}

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}", self.0)
    }
}

/// A user (a UUID, as text).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct UserId(String);

impl UserId {
    /// A fresh random id.
    pub fn new() -> Self {
        UserId(Uuid::new_v4().to_string())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for UserId {
    fn default() -> Self {
        Self::new()
    }
}

impl From<String> for UserId {
    fn from(s: String) -> Self {
        UserId(s)
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ids_round_trip_through_the_database_as_text_and_malformed_text_is_refused() {
        let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.expect("db");
        let thread = ThreadId::new();
        let (text, back): (String, ThreadId) = sqlx::query_as("SELECT ?1, ?1")
            .bind(thread)
            .fetch_one(&pool)
            .await
            .expect("query");
        assert_eq!(text, thread.to_string());
        assert_eq!(back, thread);
        let bad: Result<(ThreadId,), _> = sqlx::query_as("SELECT 'not-a-uuid'").fetch_one(&pool).await;
        assert!(bad.is_err());
        let (school,): (InstitutionId,) = sqlx::query_as("SELECT ?1")
            .bind(InstitutionId(42))
            .fetch_one(&pool)
            .await
            .expect("query");
        assert_eq!(school, InstitutionId(42));
        assert!("../etc".parse::<SnapshotId>().is_err());
    }
}
