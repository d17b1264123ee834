//! `samen admin …`: manage institutions, users, roles, tokens and second factors directly in
//! the database.
//! Every change is written to the audit log with the actor `cli`; `samen admin audit` reads
//! the log.

use std::io::BufRead;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::auth::password::{check_new_password, hash_password};
use crate::db::{AuditEntry, AuditFilter, Db, role_kind, users_roles};
use crate::ids::InstitutionId;
use crate::open_database;

/// Where the database is.
#[derive(Debug, Clone, Args)]
pub struct AdminArgs {
    /// Directory of the embedded SQLite database.
    #[arg(long, env = "SAMEN_DATA", default_value = "./data", global = true)]
    pub data: PathBuf,
    /// Database URL (`postgres://...` or `sqlite:...`); overrides `--data`.
    #[arg(long, env = "SAMEN_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Debug, Clone, Subcommand)]
enum AdminCommand {
    /// Create a CLB, school or LSC.
    CreateInstitution {
        /// `clb`, `school` or `lsc`.
        #[arg(long)]
        kind: String,
        /// Institution number.
        #[arg(long)]
        number: String,
        /// Name.
        #[arg(long)]
        name: String,
        /// For a school: the number of the CLB that serves it.
        #[arg(long)]
        served_by: Option<String>,
    },
    /// Record that a CLB or an LSC serves a school.
    LinkSchool {
        /// The CLB's number: its staff keep the school's registrations.
        #[arg(long, required_unless_present = "lsc", conflicts_with = "lsc")]
        clb: Option<String>,
        /// The LSC's number: its staff take part in the school's meetings and keep
        /// school–LSC agreements with it.
        #[arg(long)]
        lsc: Option<String>,
        /// The school's number.
        #[arg(long)]
        school: String,
    },
    /// Create a user. The password comes from `--password-stdin` (one line) or the
    /// SAMEN_NEW_PASSWORD environment variable, never from the command line; it must be at
    /// least 12 characters and not common or made of the user's name or e-mail address.
    CreateUser {
        /// E-mail address (the login).
        #[arg(long)]
        email: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Read the password from standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Give a user a role (on an institution, except `admin`).
    Grant {
        /// The user's e-mail address.
        #[arg(long)]
        email: String,
        /// `clb_staff`, `school_dossier`, `lsc_staff` or `admin`.
        #[arg(long)]
        role: String,
        /// Institution number (not for `admin`).
        #[arg(long)]
        institution: Option<String>,
    },
    /// Take a role away.
    Revoke {
        /// The user's e-mail address.
        #[arg(long)]
        email: String,
        /// The role.
        #[arg(long)]
        role: String,
        /// Institution number (not for `admin`).
        #[arg(long)]
        institution: Option<String>,
    },
    /// Make an API token for a user; it is printed once.
    Token {
        /// The user's e-mail address.
        #[arg(long)]
        email: String,
        /// What the token is for.
        #[arg(long)]
        name: String,
        /// Days until it stops working (0: it has already expired, to see that a client
        /// copes with that).
        #[arg(long, default_value_t = crate::http::TOKEN_DAYS)]
        expires_days: u32,
        /// Reads only.
        #[arg(long)]
        read_only: bool,
        /// The institution number of the one school it may reach.
        #[arg(long)]
        school: Option<String>,
    },
    /// Print the audit log as JSON lines, oldest first: `id`, `at` (ms since the epoch),
    /// `actor` (a user id or `cli`), `action`, `target`, `outcome`, `detail`.
    Audit {
        /// Only what this user did (their e-mail address, or `cli`).
        #[arg(long)]
        user: Option<String>,
        /// Only entries about this item: its id as the target or in the detail (a
        /// registration's reads, versions and diffs are all found by its id).
        #[arg(long)]
        target: Option<String>,
        /// Only entries since then: an age (`90s`, `30m`, `2h`, `7d`) or ms since the epoch.
        #[arg(long)]
        since: Option<String>,
    },
    /// Disable a user: no more logins, sessions and tokens end.
    DisableUser {
        /// The user's e-mail address.
        #[arg(long)]
        email: String,
    },
    /// Copy the SQLite database, while the server runs, into a new file: a consistent
    /// snapshot (SQLite's `VACUUM INTO`), and the documents' contents into `<file>.files`.
    /// To restore, stop the server and put them in place of `samen.db` and `files` in the
    /// data directory (docs/deployment.md). On PostgreSQL, use `pg_dump`: the documents are
    /// in the database.
    Backup {
        /// The file to write; it must not exist yet.
        #[arg(long)]
        to: PathBuf,
    },
    /// Turn off a user's two-step verification (they lost their phone and their recovery
    /// codes): they log in with the password alone and can set it up again.
    ResetTotp {
        /// The user's e-mail address.
        #[arg(long)]
        email: String,
    },
}

/// Runs an admin command; returns what to print.
pub async fn run(args: AdminArgs) -> anyhow::Result<String> {
    let (store, db) = open_database(&args.data, args.database_url.as_deref()).await?;
    let result = command(&db, &args.data, args.command).await;
    store.close().await;
    db.close().await;
    result
}

async fn user_id(db: &Db, email: &str) -> anyhow::Result<crate::ids::UserId> {
    match db.user_by_email(email).await? {
        Some((user, _)) => Ok(user.id),
        None => anyhow::bail!("no user with e-mail address {email}"),
    }
}

async fn institution_id(db: &Db, number: Option<&str>, role: &str) -> anyhow::Result<Option<InstitutionId>> {
    let Some(kind) = role_kind(role) else {
        anyhow::bail!("role must be one of {}", users_roles().join(", "));
    };
    match (kind, number) {
        (None, None) => Ok(None),
        (None, Some(_)) => anyhow::bail!("{role} is a platform role: leave out --institution"),
        (Some(kind), None) => anyhow::bail!("{role} needs --institution (a {kind})"),
        (Some(kind), Some(n)) => match db.institution(n).await? {
            Some(i) if i.kind == kind => Ok(Some(i.id)),
            Some(_) => anyhow::bail!("{n} is no {kind}: {role} is held on a {kind}"),
            None => anyhow::bail!("no institution with number {n}"),
        },
    }
}

async fn audit(db: &Db, action: &'static str, target: String) -> anyhow::Result<()> {
    db.audit(AuditEntry {
        actor: Some("cli".into()),
        action,
        target: Some(target),
        outcome: "ok",
        detail: None,
    })
    .await?;
    Ok(())
}

async fn command(db: &Db, data: &std::path::Path, command: AdminCommand) -> anyhow::Result<String> {
    match command {
        AdminCommand::CreateInstitution {
            kind,
            number,
            name,
            served_by,
        } => {
            if !["clb", "school", "lsc"].contains(&kind.as_str()) {
                anyhow::bail!("kind must be clb, school or lsc");
            }
            let created = db.create_institution(&kind, &number, &name).await?;
            if let Some(clb) = served_by {
                let clb = db.institution(&clb).await?.filter(|i| i.kind == "clb");
                let Some(clb) = clb else {
                    anyhow::bail!("--served-by must name an existing CLB")
                };
                db.link_school(clb.id, created.id).await?;
            }
            audit(db, "institution.create", number.clone()).await?;
            Ok(format!("created {kind} {number} ({name})"))
        }
        AdminCommand::Backup { to } => {
            let files = crate::files::blobs::backup_dir(&to);
            if to.exists() || files.exists() {
                anyhow::bail!("{} exists already: give a new file name", to.display());
            }
            db.backup_to(&to).await?;
            // After the database: every file its copy names is there (contents never change).
            let copied = crate::files::blobs::copy_contents(data, &files)?;
            audit(db, "database.backup", to.display().to_string()).await?;
            Ok(format!(
                "backed up to {} and {copied} documents to {}",
                to.display(),
                files.display()
            ))
        }
        AdminCommand::LinkSchool { clb, lsc, school } => {
            let (kind, partner) = match (clb, lsc) {
                (Some(clb), _) => ("clb", clb),
                (None, Some(lsc)) => ("lsc", lsc),
                (None, None) => anyhow::bail!("give --clb or --lsc"),
            };
            let (Some(p), Some(s)) = (db.institution(&partner).await?, db.institution(&school).await?) else {
                anyhow::bail!("both institutions must exist");
            };
            if p.kind != kind || s.kind != "school" {
                anyhow::bail!(
                    "--{kind} must be a{} {} and --school a school",
                    if kind == "lsc" { "n" } else { "" },
                    kind.to_uppercase()
                );
            }
            if kind == "clb" {
                db.link_school(p.id, s.id).await?;
            } else {
                db.link_lsc(p.id, s.id).await?;
            }
            audit(db, "institution.link", format!("{partner}->{school}")).await?;
            Ok(format!(
                "{} {partner} serves school {school}",
                kind.to_uppercase()
            ))
        }
        AdminCommand::CreateUser {
            email,
            name,
            password_stdin,
        } => {
            let password = if password_stdin {
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line)?;
                line.trim_end_matches(['\n', '\r']).to_owned()
            } else {
                std::env::var("SAMEN_NEW_PASSWORD").map_err(|_| {
                    anyhow::anyhow!("give the password with --password-stdin or SAMEN_NEW_PASSWORD")
                })?
            };
            // The rule runs before anything is written, so a refused password leaves no user.
            check_new_password(&password, &[email.as_str(), name.as_str()])?;
            let hash = hash_password(&password).map_err(|e| anyhow::anyhow!("hashing: {e}"))?;
            let user = db.create_user(email.trim(), name.trim(), &hash).await?;
            audit(db, "user.create", email.clone()).await?;
            Ok(format!("created user {} ({email})", user.id))
        }
        AdminCommand::Grant {
            email,
            role,
            institution,
        } => {
            let user = user_id(db, &email).await?;
            let inst = institution_id(db, institution.as_deref(), &role).await?;
            db.grant(&user, &role, inst).await?;
            audit(db, "role.grant", format!("{email}:{role}")).await?;
            Ok(format!(
                "{email} is now {role}{}",
                institution.map(|i| format!(" on {i}")).unwrap_or_default()
            ))
        }
        AdminCommand::Revoke {
            email,
            role,
            institution,
        } => {
            let user = user_id(db, &email).await?;
            let inst = institution_id(db, institution.as_deref(), &role).await?;
            if !db.revoke(&user, &role, inst).await? {
                anyhow::bail!("{email} did not have that role");
            }
            audit(db, "role.revoke", format!("{email}:{role}")).await?;
            Ok(format!("{email} is no longer {role}"))
        }
        AdminCommand::Token {
            email,
            name,
            expires_days,
            read_only,
            school,
        } => {
            let user = user_id(db, &email).await?;
            let school = match school {
                Some(n) => match db.institution(&n).await? {
                    Some(i) if i.kind == "school" => Some(i.id),
                    _ => anyhow::bail!("no school with number {n}"),
                },
                None => None,
            };
            let new = crate::db::NewToken {
                name: &name,
                lifetime_ms: i64::from(expires_days) * 24 * 60 * 60 * 1000,
                scope: if read_only {
                    crate::db::TokenScope::Read
                } else {
                    crate::db::TokenScope::ReadWrite
                },
                school,
            };
            let (id, token) = db.create_token(&user, &new).await?;
            audit(db, "token.create", id.to_string()).await?;
            Ok(token)
        }
        AdminCommand::Audit { user, target, since } => {
            let actor = match user.as_deref() {
                None => None,
                Some("cli") => Some("cli".to_owned()),
                Some(email) => Some(user_id(db, email).await?.to_string()),
            };
            let since = since.as_deref().map(since_millis).transpose()?;
            let filter = AuditFilter {
                actor,
                target,
                since,
                ..AuditFilter::default()
            };
            let mut lines = Vec::new();
            for row in db.audit_rows(&filter).await? {
                lines.push(serde_json::to_string(&row)?);
            }
            // Reading is not audited: the log is not a dossier, and `samen admin` runs with
            // direct access to the database file anyway.
            Ok(lines.join("\n"))
        }
        AdminCommand::DisableUser { email } => {
            let user = user_id(db, &email).await?;
            db.disable_user(&user).await?;
            audit(db, "user.disable", email.clone()).await?;
            Ok(format!(
                "{email} is disabled; their sessions and tokens no longer work"
            ))
        }
        AdminCommand::ResetTotp { email } => {
            let user = user_id(db, &email).await?;
            if !db.remove_totp(&user).await? {
                anyhow::bail!("{email} has no two-step verification turned on; nothing to reset");
            }
            audit(db, "totp.reset", email.clone()).await?;
            Ok(format!(
                "two-step verification is off for {email}: they log in with their password alone and \
                 can set it up again on their account page"
            ))
        }
    }
}

/// `--since`: an age (`90s`, `30m`, `2h`, `7d`) before now, or ms since the epoch.
fn since_millis(since: &str) -> anyhow::Result<i64> {
    let since = since.trim();
    if let Ok(at) = since.parse::<i64>() {
        return Ok(at);
    }
    let unit: i64 = match since.chars().last() {
        Some('s') => 1_000,
        Some('m') => 60_000,
        Some('h') => 3_600_000,
        Some('d') => 86_400_000,
        _ => anyhow::bail!("--since takes an age such as 30m, 2h or 7d, or ms since the epoch"),
    };
    let amount: i64 = since[..since.len() - 1]
        .parse()
        .map_err(|_| anyhow::anyhow!("--since takes an age such as 30m, 2h or 7d, or ms since the epoch"))?;
    Ok(crate::db::now().saturating_sub(amount.saturating_mul(unit)))
}

#[cfg(test)]
mod tests {
    use super::since_millis;

    #[test]
    fn since_takes_an_age_or_a_time() {
        assert_eq!(since_millis("1700000000000").expect("time"), 1_700_000_000_000);
        let now = crate::db::now();
        let two_hours = since_millis("2h").expect("age");
        assert!((now - 7_200_000 - 1_000..=now - 7_200_000 + 1_000).contains(&two_hours));
        assert!(since_millis("2 weeks").is_err());
        assert!(since_millis("h").is_err());
        assert!(since_millis("").is_err());
    }
}
