//! Server-side sessions and API tokens. Both are random 256-bit secrets; the database
//! holds only their SHA-256, so a copy of it opens nothing.

use sqlx::Row;

use super::{Db, DbError, now};
use crate::auth::Credential;
use crate::auth::secret::{hash_secret, new_secret};
use crate::db::User;
use crate::ids::{InstitutionId, TokenId, UserId};

/// What an API token may do: read only, or whatever its user may.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum TokenScope {
    /// Reads only: every change is refused (403; on `/sync`, permission denied).
    Read,
    /// Reads and writes, as its user may.
    #[default]
    ReadWrite,
}

impl TokenScope {
    fn as_str(self) -> &'static str {
        match self {
            TokenScope::Read => "read",
            TokenScope::ReadWrite => "read_write",
        }
    }

    fn parse(s: &str) -> Self {
        // Anything but the one read-write value reads only: an unknown scope grants less.
        if s == "read_write" {
            TokenScope::ReadWrite
        } else {
            TokenScope::Read
        }
    }
}

/// A token to make.
#[derive(Debug, Clone)]
pub struct NewToken<'a> {
    /// What its owner calls it.
    pub name: &'a str,
    /// How long it works from its making (ms); its expiry is its creation time plus this.
    pub lifetime_ms: i64,
    /// What it may do.
    pub scope: TokenScope,
    /// The one school it may reach, if limited.
    pub school: Option<InstitutionId>,
}

/// What a caller's credential allows beyond its user's rights: everything for a session;
/// for a token, its scope and school.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Limits {
    /// Whether changes are allowed.
    pub scope: TokenScope,
    /// The one school it may reach, if limited (database id and institution number).
    pub school: Option<(InstitutionId, String)>,
}

/// An API token as listed (never the token itself).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct TokenInfo {
    /// Its id (for revoking).
    #[schema(value_type = String, format = "uuid")]
    pub id: TokenId,
    /// The name its owner gave it.
    pub name: String,
    /// Creation time (ms since the epoch).
    pub created_at: i64,
    /// Last use (ms since the epoch), `null` if never used.
    #[schema(required = true)]
    pub last_used_at: Option<i64>,
    /// Revocation time, `null` unless revoked.
    #[schema(required = true)]
    pub revoked_at: Option<i64>,
    /// When it stops working (ms since the epoch).
    #[schema(required = true)]
    pub expires_at: Option<i64>,
    /// What it may do.
    pub scope: TokenScope,
    /// The institution number of the one school it may reach, `null` if not limited.
    #[schema(required = true)]
    pub school: Option<String>,
}

const USER_COLUMNS: &str = "u.id, u.email, u.display_name, u.disabled";

/// How stale a session's recorded last use may get before a request writes it anew: a
/// minute (a write per request would cost an fsync), but a fraction of a short idle timeout,
/// so that a session in use never looks idle.
pub fn seen_granularity_ms(idle_ms: i64) -> i64 {
    (idle_ms / 4).clamp(1, 60_000)
}

/// How often expired and idle sessions are deleted.
pub const PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// Deletes expired and idle sessions every [`PURGE_EVERY`] until shutdown: they admit no
/// one any more, but would pile up in the database.
pub async fn keep_sessions_purged(db: Db, idle_ms: i64, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(PURGE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => match db.purge_sessions(idle_ms).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(sessions = n, "purged expired sessions"),
                Err(err) => tracing::warn!(error = %err, "could not purge expired sessions"),
            },
            _ = shutdown.changed() => return,
        }
    }
}

impl Db {
    /// Starts a session for a user; returns its secret id (for the cookie only).
    pub async fn create_session(&self, user: &UserId, ttl_ms: i64) -> Result<String, DbError> {
        self.insert_session(user, ttl_ms, None, None).await
    }

    /// Starts a session, with the provider's session id and ID token when the provider
    /// started it (`identities.rs`); returns its secret id.
    pub(super) async fn insert_session(
        &self,
        user: &UserId,
        ttl_ms: i64,
        idp_sid: Option<&str>,
        idp_id_token: Option<&str>,
    ) -> Result<String, DbError> {
        let secret = new_secret("");
        let at = now();
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, created_at, expires_at, last_seen_at, idp_sid, idp_id_token)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(hash_secret(&secret))
        .bind(user.as_str())
        .bind(at)
        .bind(at.saturating_add(ttl_ms))
        .bind(at)
        .bind(idp_sid)
        .bind(idp_id_token)
        .execute(&self.pool)
        .await?;
        Ok(secret)
    }

    /// The user of a live session (neither expired nor idle for `idle_ms`) of an enabled
    /// user, found by the SHA-256 of its id (`hash_secret`); records its use.
    pub async fn session_user(&self, id_hash: &str, idle_ms: i64) -> Result<Option<User>, DbError> {
        let at = now();
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS}, s.last_seen_at FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.id_hash = $1 AND s.expires_at > $2 AND s.last_seen_at > $3 AND u.disabled = 0"
        )))
        .bind(id_hash)
        .bind(at)
        .bind(at.saturating_sub(idle_ms))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let last_seen: i64 = row.try_get("last_seen_at")?;
        if at - last_seen >= seen_granularity_ms(idle_ms) {
            sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2")
                .bind(at)
                .bind(id_hash)
                .execute(&self.pool)
                .await?;
        }
        Ok(Some(super::users::row_user(&row)?))
    }

    /// Records a use of a session that is still valid (an edit over its WebSocket); an
    /// expired or idle session is not brought back.
    pub async fn session_used(&self, id_hash: &str, idle_ms: i64) -> Result<(), DbError> {
        let at = now();
        sqlx::query(
            "UPDATE sessions SET last_seen_at = $1
             WHERE id_hash = $2 AND expires_at > $1 AND last_seen_at > $3 AND last_seen_at < $1",
        )
        .bind(at)
        .bind(id_hash)
        .bind(at.saturating_sub(idle_ms))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Whether a credential still admits its user: the session exists, has not expired and
    /// was used within `idle_ms`, or the token is not revoked; and the user is not disabled.
    pub async fn credential_valid(&self, credential: &Credential, idle_ms: i64) -> Result<bool, DbError> {
        let row = match credential {
            Credential::Session(id_hash) => {
                let at = now();
                sqlx::query(
                    "SELECT 1 FROM sessions s JOIN users u ON u.id = s.user_id
                     WHERE s.id_hash = $1 AND s.expires_at > $2 AND s.last_seen_at > $3 AND u.disabled = 0",
                )
                .bind(id_hash)
                .bind(at)
                .bind(at.saturating_sub(idle_ms))
                .fetch_optional(&self.pool)
                .await?
            }
            Credential::Token(hash) => {
                sqlx::query(
                    "SELECT 1 FROM api_tokens t JOIN users u ON u.id = t.user_id
                     WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.disabled = 0
                       AND (t.expires_at IS NULL OR t.expires_at > $2)",
                )
                .bind(hash)
                .bind(now())
                .fetch_optional(&self.pool)
                .await?
            }
        };
        Ok(row.is_some())
    }

    /// Deletes the sessions past their lifetime or idle for `idle_ms`; returns how many.
    pub async fn purge_sessions(&self, idle_ms: i64) -> Result<u64, DbError> {
        let at = now();
        let n = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2")
            .bind(at)
            .bind(at.saturating_sub(idle_ms))
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n)
    }

    /// Ends every session of a user but `keep` (its secret id); returns how many ended.
    pub async fn delete_other_sessions(&self, user: &UserId, keep: &str) -> Result<u64, DbError> {
        let n = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2")
            .bind(user.as_str())
            .bind(hash_secret(keep))
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n)
    }

    /// Ends a session (no error if it did not exist).
    pub async fn delete_session(&self, secret: &str) -> Result<(), DbError> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(hash_secret(secret))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Makes an API token; returns its id and the token, which is shown once.
    pub async fn create_token(
        &self,
        user: &UserId,
        new: &NewToken<'_>,
    ) -> Result<(TokenId, String), DbError> {
        let id = TokenId::new();
        let token = new_secret("samen_");
        let at = now();
        sqlx::query(
            "INSERT INTO api_tokens (id, user_id, name, token_hash, created_at, expires_at, scope, school_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id)
        .bind(user.as_str())
        .bind(new.name)
        .bind(hash_secret(&token))
        .bind(at)
        .bind(at.saturating_add(new.lifetime_ms))
        .bind(new.scope.as_str())
        .bind(new.school)
        .execute(&self.pool)
        .await?;
        Ok((id, token))
    }

    /// The user of a valid (unrevoked, unexpired) token, found by its SHA-256
    /// (`hash_secret`), and what the token allows; records its use (to the minute: a write
    /// per request would cost an fsync per WebSocket connection).
    pub async fn token_user(&self, token_hash: &str) -> Result<Option<(User, Limits)>, DbError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS}, t.last_used_at, t.scope, t.school_id, i.number AS school_number
             FROM api_tokens t JOIN users u ON u.id = t.user_id
             LEFT JOIN institutions i ON i.id = t.school_id
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.disabled = 0
               AND (t.expires_at IS NULL OR t.expires_at > $2)"
        )))
        .bind(token_hash)
        .bind(now())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let last_used: Option<i64> = row.try_get("last_used_at")?;
        let at = now();
        if last_used.is_none_or(|t| at - t > 60_000) {
            sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE token_hash = $2")
                .bind(at)
                .bind(token_hash)
                .execute(&self.pool)
                .await?;
        }
        let school: Option<InstitutionId> = row.try_get("school_id")?;
        let number: Option<String> = row.try_get("school_number")?;
        let limits = Limits {
            scope: TokenScope::parse(&row.try_get::<String, _>("scope")?),
            school: school.zip(number),
        };
        Ok(Some((super::users::row_user(&row)?, limits)))
    }

    /// A user's tokens, newest first.
    pub async fn tokens(&self, user: &UserId) -> Result<Vec<TokenInfo>, DbError> {
        let rows = sqlx::query(
            "SELECT t.id, t.name, t.created_at, t.last_used_at, t.revoked_at, t.expires_at, t.scope,
                    i.number AS school
             FROM api_tokens t LEFT JOIN institutions i ON i.id = t.school_id
             WHERE t.user_id = $1 ORDER BY t.created_at DESC",
        )
        .bind(user.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TokenInfo {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    created_at: r.try_get("created_at")?,
                    last_used_at: r.try_get("last_used_at")?,
                    revoked_at: r.try_get("revoked_at")?,
                    expires_at: r.try_get("expires_at")?,
                    scope: TokenScope::parse(&r.try_get::<String, _>("scope")?),
                    school: r.try_get("school")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(DbError::from)
    }

    /// Revokes one of a user's tokens; returns whether it existed.
    pub async fn revoke_token(&self, user: &UserId, id: TokenId) -> Result<bool, DbError> {
        let n = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL",
        )
        .bind(now())
        .bind(id)
        .bind(user.as_str())
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Engine, test_database};

    async fn db(engine: Engine) -> (tempfile::TempDir, Db, UserId) {
        let (dir, url) = test_database(engine).await;
        let (_, db) = crate::open_database(dir.path(), url.as_deref())
            .await
            .expect("open");
        let user = db.create_user("a@example.be", "A", "x").await.expect("user").id;
        (dir, db, user)
    }

    async fn count(db: &Db) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM sessions")
            .fetch_one(&db.pool)
            .await
            .expect("count")
    }

    crate::test_both_dbs!(
        the_purge_deletes_expired_and_idle_sessions_only_sqlite,
        the_purge_deletes_expired_and_idle_sessions_only_postgres,
        the_purge_deletes_expired_and_idle_sessions_only
    );
    async fn the_purge_deletes_expired_and_idle_sessions_only(engine: Engine) {
        let (_dir, db, user) = db(engine).await;
        let live = db.create_session(&user, 3_600_000).await.expect("live");
        let expired = db.create_session(&user, 3_600_000).await.expect("expired");
        let idle = db.create_session(&user, 3_600_000).await.expect("idle");
        sqlx::query("UPDATE sessions SET expires_at = $1 WHERE id_hash = $2")
            .bind(now() - 1)
            .bind(hash_secret(&expired))
            .execute(&db.pool)
            .await
            .expect("expire");
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2")
            .bind(now() - 120_000)
            .bind(hash_secret(&idle))
            .execute(&db.pool)
            .await
            .expect("idle");
        assert_eq!(db.purge_sessions(60_000).await.expect("purge"), 2);
        assert_eq!(count(&db).await, 1);
        assert!(
            db.session_user(&hash_secret(&live), 60_000)
                .await
                .expect("live")
                .is_some()
        );
        assert!(
            db.session_user(&hash_secret(&idle), 3_600_000)
                .await
                .expect("idle")
                .is_none(),
            "deleted"
        );
    }

    crate::test_both_dbs!(
        use_moves_the_last_use_forward_and_idleness_ends_a_session_sqlite,
        use_moves_the_last_use_forward_and_idleness_ends_a_session_postgres,
        use_moves_the_last_use_forward_and_idleness_ends_a_session
    );
    async fn use_moves_the_last_use_forward_and_idleness_ends_a_session(engine: Engine) {
        let (_dir, db, user) = db(engine).await;
        let secret = db.create_session(&user, 3_600_000).await.expect("session");
        let credential = Credential::Session(hash_secret(&secret));
        sqlx::query("UPDATE sessions SET last_seen_at = $1")
            .bind(now() - 50_000)
            .execute(&db.pool)
            .await
            .expect("age");
        assert!(db.credential_valid(&credential, 60_000).await.expect("valid"));
        assert!(
            db.session_user(&hash_secret(&secret), 60_000)
                .await
                .expect("use")
                .is_some()
        );
        let seen: i64 = sqlx::query_scalar("SELECT last_seen_at FROM sessions")
            .fetch_one(&db.pool)
            .await
            .expect("seen");
        assert!(now() - seen < 10_000, "the use was recorded");
        sqlx::query("UPDATE sessions SET last_seen_at = $1")
            .bind(now() - 61_000)
            .execute(&db.pool)
            .await
            .expect("age");
        assert!(!db.credential_valid(&credential, 60_000).await.expect("idle"));
        assert!(
            db.session_user(&hash_secret(&secret), 60_000)
                .await
                .expect("idle")
                .is_none()
        );
    }

    #[test]
    fn the_last_use_is_written_at_most_once_a_minute() {
        assert_eq!(seen_granularity_ms(7_200_000), 60_000);
        assert_eq!(seen_granularity_ms(2_000), 500);
        assert_eq!(seen_granularity_ms(0), 1);
    }
}
