//! The second factor: users' TOTP secrets, their recovery codes (SHA-256 only) and the
//! password logins still waiting for a code (login challenges, found by the SHA-256 of their
//! id, like sessions).

use sqlx::Row;

use super::users::row_user;
use super::{Db, DbError, now};
use crate::auth::secret::{hash_secret, new_secret};
use crate::db::User;
use crate::ids::UserId;

/// A user's TOTP as stored.
#[derive(Debug, Clone)]
pub struct StoredTotp {
    /// The shared secret.
    pub secret: Vec<u8>,
    /// When the user confirmed it with a code (ms since the epoch); `None` while set up but
    /// not confirmed, when logins do not ask for it yet.
    pub confirmed_at: Option<i64>,
    /// The last time step whose code was accepted.
    pub last_step: Option<i64>,
}

/// A password login waiting for its code.
#[derive(Debug, Clone)]
pub struct LoginChallenge {
    /// Whose.
    pub user: User,
    /// Whether the login asked to stay logged in.
    pub remember: bool,
}

impl Db {
    /// A user's TOTP, confirmed or not.
    pub async fn totp(&self, user: &UserId) -> Result<Option<StoredTotp>, DbError> {
        let row = sqlx::query("SELECT secret, confirmed_at, last_step FROM totp WHERE user_id = $1")
            .bind(user.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(StoredTotp {
                secret: row.try_get("secret")?,
                confirmed_at: row.try_get("confirmed_at")?,
                last_step: row.try_get("last_step")?,
            })
        })
        .transpose()
        .map_err(DbError::Sqlx)
    }

    /// Whether logins of this user need a code (their TOTP is confirmed).
    pub async fn totp_enabled(&self, user: &UserId) -> Result<bool, DbError> {
        Ok(self.totp(user).await?.is_some_and(|t| t.confirmed_at.is_some()))
    }

    /// Recovery codes of a user not used yet.
    pub async fn recovery_codes_left(&self, user: &UserId) -> Result<i64, DbError> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM totp_recovery_codes WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user.as_str())
        .fetch_one(&self.pool)
        .await?)
    }

    /// Stores a new, unconfirmed secret for a user, in place of an unconfirmed one;
    /// `Conflict` when their TOTP is confirmed already (it is turned off first).
    pub async fn begin_totp(&self, user: &UserId, secret: &[u8]) -> Result<(), DbError> {
        let written = sqlx::query(
            "INSERT INTO totp (user_id, secret, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret,
                 created_at = excluded.created_at, last_step = NULL
             WHERE totp.confirmed_at IS NULL",
        )
        .bind(user.as_str())
        .bind(secret)
        .bind(now())
        .execute(&self.pool)
        .await?
        .rows_affected();
        if written == 0 {
            return Err(DbError::Conflict("two-step verification"));
        }
        Ok(())
    }

    /// Confirms a user's unconfirmed secret, with `step` as the last step used, and gives
    /// them these recovery codes (hashed) in place of any earlier ones; false when there
    /// was no unconfirmed secret (someone confirmed it meanwhile, or it was removed).
    pub async fn confirm_totp(
        &self,
        user: &UserId,
        step: i64,
        recovery_hashes: &[String],
    ) -> Result<bool, DbError> {
        let mut tx = self.pool.begin().await?;
        let at = now();
        let confirmed = sqlx::query(
            "UPDATE totp SET confirmed_at = $1, last_step = $2 WHERE user_id = $3 AND confirmed_at IS NULL",
        )
        .bind(at)
        .bind(step)
        .bind(user.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if confirmed == 0 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM totp_recovery_codes WHERE user_id = $1")
            .bind(user.as_str())
            .execute(&mut *tx)
            .await?;
        for hash in recovery_hashes {
            sqlx::query("INSERT INTO totp_recovery_codes (user_id, code_hash) VALUES ($1, $2)")
                .bind(user.as_str())
                .bind(hash)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Records that the code of `step` was used, unless that step or a later one was used
    /// already: true for the one request that gets to use it, also when two race.
    pub async fn use_totp_step(&self, user: &UserId, step: i64) -> Result<bool, DbError> {
        let used = sqlx::query(
            "UPDATE totp SET last_step = $1 WHERE user_id = $2 AND confirmed_at IS NOT NULL
               AND (last_step IS NULL OR last_step < $1)",
        )
        .bind(step)
        .bind(user.as_str())
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(used == 1)
    }

    /// Uses up a recovery code (by its hash): true for the one request that gets to use it.
    pub async fn use_recovery_code(&self, user: &UserId, code_hash: &str) -> Result<bool, DbError> {
        let used = sqlx::query(
            "UPDATE totp_recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
        )
        .bind(now())
        .bind(user.as_str())
        .bind(code_hash)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(used == 1)
    }

    /// Removes a user's TOTP, recovery codes and waiting logins; true when their logins
    /// needed a code until now.
    pub async fn remove_totp(&self, user: &UserId) -> Result<bool, DbError> {
        let mut tx = self.pool.begin().await?;
        let enabled: Option<Option<i64>> =
            sqlx::query_scalar("DELETE FROM totp WHERE user_id = $1 RETURNING confirmed_at")
                .bind(user.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        for table in ["totp_recovery_codes", "login_challenges"] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE user_id = $1"
            )))
            .bind(user.as_str())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(enabled.flatten().is_some())
    }

    /// Starts a login that waits for its code, for `ttl_ms`; returns its secret id (for
    /// the login page only). Expired ones are deleted on the way: they open nothing, but
    /// would pile up.
    pub async fn create_login_challenge(
        &self,
        user: &UserId,
        remember: bool,
        ttl_ms: i64,
    ) -> Result<String, DbError> {
        let at = now();
        sqlx::query("DELETE FROM login_challenges WHERE expires_at <= $1")
            .bind(at)
            .execute(&self.pool)
            .await?;
        let secret = new_secret("");
        sqlx::query(
            "INSERT INTO login_challenges (id_hash, user_id, remember, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(hash_secret(&secret))
        .bind(user.as_str())
        .bind(i64::from(remember))
        .bind(at.saturating_add(ttl_ms))
        .execute(&self.pool)
        .await?;
        Ok(secret)
    }

    /// The login waiting for its code under this id hash, unless it expired or its user
    /// was disabled meanwhile.
    pub async fn login_challenge(&self, id_hash: &str) -> Result<Option<LoginChallenge>, DbError> {
        let row = sqlx::query(
            "SELECT u.id, u.email, u.display_name, u.disabled, c.remember FROM login_challenges c
             JOIN users u ON u.id = c.user_id
             WHERE c.id_hash = $1 AND c.expires_at > $2 AND u.disabled = 0",
        )
        .bind(id_hash)
        .bind(now())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(LoginChallenge {
                user: row_user(&row)?,
                remember: row.try_get::<i64, _>("remember")? != 0,
            })
        })
        .transpose()
        .map_err(DbError::Sqlx)
    }

    /// Counts a wrong code against a waiting login and deletes it at the `max`th; true
    /// while it may still be answered.
    pub async fn login_challenge_failed(&self, id_hash: &str, max: i64) -> Result<bool, DbError> {
        let failures: Option<i64> = sqlx::query_scalar(
            "UPDATE login_challenges SET failures = failures + 1 WHERE id_hash = $1 RETURNING failures",
        )
        .bind(id_hash)
        .fetch_optional(&self.pool)
        .await?;
        let alive = failures.is_some_and(|f| f < max);
        if !alive {
            self.delete_login_challenge(id_hash).await?;
        }
        Ok(alive)
    }

    /// Ends a waiting login (answered, or given up); true for the one request that ended
    /// it, so that two right answers racing on one id cannot both start a session.
    pub async fn delete_login_challenge(&self, id_hash: &str) -> Result<bool, DbError> {
        let deleted = sqlx::query("DELETE FROM login_challenges WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(deleted == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Engine, test_database};

    async fn db_with_user(engine: Engine) -> (tempfile::TempDir, Db, UserId) {
        let (dir, url) = test_database(engine).await;
        let (_, db) = crate::open_database(dir.path(), url.as_deref())
            .await
            .expect("open");
        let user = db.create_user("an@clb.be", "An", "hash").await.expect("user").id;
        (dir, db, user)
    }

    crate::test_both_dbs!(
        a_step_a_recovery_code_and_a_pending_login_are_each_used_once_sqlite,
        a_step_a_recovery_code_and_a_pending_login_are_each_used_once_postgres,
        a_step_a_recovery_code_and_a_pending_login_are_each_used_once
    );
    async fn a_step_a_recovery_code_and_a_pending_login_are_each_used_once(engine: Engine) {
        let (_dir, db, user) = db_with_user(engine).await;
        db.begin_totp(&user, b"secret").await.expect("begin");
        assert!(
            !db.use_totp_step(&user, 10).await.expect("use"),
            "not confirmed yet"
        );
        let codes = ["a".repeat(64), "b".repeat(64)];
        assert!(db.confirm_totp(&user, 10, &codes).await.expect("confirm"));
        assert!(
            !db.confirm_totp(&user, 11, &codes).await.expect("again"),
            "confirmed once"
        );
        assert!(matches!(
            db.begin_totp(&user, b"other").await,
            Err(DbError::Conflict(_))
        ));

        // The database refuses a step used already or an older one, whoever asks.
        assert!(!db.use_totp_step(&user, 10).await.expect("replay"));
        assert!(!db.use_totp_step(&user, 9).await.expect("older"));
        assert!(db.use_totp_step(&user, 11).await.expect("next"));
        assert!(!db.use_totp_step(&user, 11).await.expect("raced"));

        assert!(db.use_recovery_code(&user, &codes[0]).await.expect("code"));
        assert!(!db.use_recovery_code(&user, &codes[0]).await.expect("used"));
        assert!(
            !db.use_recovery_code(&user, &"c".repeat(64))
                .await
                .expect("unknown")
        );
        assert_eq!(db.recovery_codes_left(&user).await.expect("left"), 1);

        let pending = hash_secret(
            &db.create_login_challenge(&user, true, 60_000)
                .await
                .expect("challenge"),
        );
        let challenge = db.login_challenge(&pending).await.expect("read").expect("there");
        assert!(challenge.remember);
        assert!(db.login_challenge_failed(&pending, 2).await.expect("one wrong"));
        assert!(
            !db.login_challenge_failed(&pending, 2).await.expect("two wrong"),
            "gone"
        );
        assert!(db.login_challenge(&pending).await.expect("read").is_none());
        let pending = hash_secret(
            &db.create_login_challenge(&user, false, 60_000)
                .await
                .expect("challenge"),
        );
        assert!(db.delete_login_challenge(&pending).await.expect("answered"));
        assert!(
            !db.delete_login_challenge(&pending).await.expect("raced"),
            "answered once"
        );
        let expired = hash_secret(
            &db.create_login_challenge(&user, false, -1)
                .await
                .expect("challenge"),
        );
        assert!(
            db.login_challenge(&expired).await.expect("read").is_none(),
            "expired"
        );

        db.create_login_challenge(&user, false, 60_000)
            .await
            .expect("challenge");
        assert!(db.remove_totp(&user).await.expect("remove"));
        assert!(!db.totp_enabled(&user).await.expect("off"));
        assert_eq!(db.recovery_codes_left(&user).await.expect("left"), 0);
        assert!(
            !db.remove_totp(&user).await.expect("again"),
            "nothing left to remove"
        );
    }
}
