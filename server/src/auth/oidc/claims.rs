//! What an ID token's claims say about a person: who they are and which roles they hold
//! on which institutions. Pure: the database decides afterwards which institutions exist.

use serde_json::{Map, Value};

use crate::config::OidcConfig;

/// The roles the provider can grant, each held on one kind of institution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `school_dossier` on a school (role suffix `school`).
    School,
    /// `clb_staff` on a CLB (`clb`).
    Clb,
    /// `clb_admin` on a CLB (`clbbeheer`): the CLB's own administrator.
    ClbAdmin,
    /// `lsc_staff` on an LSC (`lsc`).
    Lsc,
}

impl Kind {
    /// The role of a role suffix.
    fn parse(text: &str) -> Option<Kind> {
        match text.trim().to_ascii_lowercase().as_str() {
            "school" => Some(Kind::School),
            "clb" => Some(Kind::Clb),
            "clbbeheer" => Some(Kind::ClbAdmin),
            "lsc" => Some(Kind::Lsc),
            _ => None,
        }
    }

    /// The `institutions.kind` this role is held on.
    pub fn institution_kind(self) -> &'static str {
        match self {
            Kind::School => "school",
            Kind::Clb | Kind::ClbAdmin => "clb",
            Kind::Lsc => "lsc",
        }
    }

    /// The Samen role.
    pub fn role(self) -> &'static str {
        match self {
            Kind::School => "school_dossier",
            Kind::Clb => "clb_staff",
            Kind::ClbAdmin => "clb_admin",
            Kind::Lsc => "lsc_staff",
        }
    }
}

/// How claims map to roles: the claim names and values of `--oidc-*`.
#[derive(Debug, Clone)]
pub struct Mapping {
    email: String,
    name: String,
    target_group: String,
    organisation: String,
    roles: String,
    role_prefix: String,
    target_groups: Vec<(String, Kind)>,
}

impl Mapping {
    /// The mapping the configuration names; an error says which setting is malformed.
    pub fn from_config(config: &OidcConfig) -> Result<Mapping, String> {
        let target_groups = config
            .target_groups
            .iter()
            .filter(|pair| !pair.trim().is_empty())
            .map(|pair| {
                let (value, kind) = pair.split_once('=').unwrap_or((pair, ""));
                Kind::parse(kind)
                    .filter(|k| !value.trim().is_empty() && *k != Kind::ClbAdmin)
                    .map(|kind| (value.trim().to_owned(), kind))
                    .ok_or_else(|| {
                        format!(
                            "--oidc-target-groups: {pair:?} must look like VALUE=school, VALUE=clb or VALUE=lsc"
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if config.claim_email.trim().is_empty() || config.claim_roles.trim().is_empty() {
            return Err("--oidc-claim-email and --oidc-claim-roles cannot be empty".into());
        }
        Ok(Mapping {
            email: config.claim_email.trim().to_owned(),
            name: config.claim_name.trim().to_owned(),
            target_group: config.claim_target_group.trim().to_owned(),
            organisation: config.claim_organisation.trim().to_owned(),
            roles: config.claim_roles.trim().to_owned(),
            role_prefix: config.role_prefix.trim().to_owned(),
            target_groups,
        })
    }
}

/// A role the claims grant: `kind`'s role on the institution `number`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The kind of institution (and so the role).
    pub kind: Kind,
    /// The institution number.
    pub number: String,
}

/// A person as the provider describes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// The provider's subject (`sub`).
    pub subject: String,
    /// Their e-mail address, lower case.
    pub email: String,
    /// Their name.
    pub display_name: String,
    /// The roles the claims grant, each once.
    pub grants: Vec<Grant>,
    /// Role values that grant nothing, with why (for the log and the audit).
    pub ignored: Vec<String>,
}

/// A claim Samen needs is missing or empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the provider did not send the claim {0:?}")]
pub struct MissingClaim(pub String);

/// Reads a person from verified ID-token claims.
pub fn read(claims: &Map<String, Value>, mapping: &Mapping) -> Result<Person, MissingClaim> {
    let text = |name: &str| -> Option<String> {
        match claims.get(name)? {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    let required = |name: &str| text(name).ok_or_else(|| MissingClaim(name.to_owned()));
    let subject = required("sub")?;
    let email = required(&mapping.email)?.to_lowercase();
    let display_name = text(&mapping.name)
        .or_else(|| {
            let parts: Vec<String> = ["given_name", "family_name"]
                .iter()
                .filter_map(|c| text(c))
                .collect();
            (!parts.is_empty()).then(|| parts.join(" "))
        })
        .unwrap_or_else(|| email.clone());
    let staff_of = if mapping.target_group.is_empty() {
        None
    } else {
        let group = required(&mapping.target_group)?;
        Some(
            mapping
                .target_groups
                .iter()
                .find(|(value, _)| value.eq_ignore_ascii_case(&group))
                .map(|&(_, kind)| kind)
                .ok_or(group),
        )
    };
    let organisation = if mapping.organisation.is_empty() {
        None
    } else {
        text(&mapping.organisation)
    };

    let mut grants: Vec<Grant> = Vec::new();
    let mut ignored = Vec::new();
    for value in role_values(claims.get(&mapping.roles)) {
        let (role, numbers) = match value.split_once(':') {
            Some((role, numbers)) => (role.trim(), Some(numbers)),
            None => (value.trim(), None),
        };
        let kind = role
            .get(..mapping.role_prefix.len())
            .filter(|p| p.eq_ignore_ascii_case(&mapping.role_prefix))
            .and_then(|_| Kind::parse(&role[mapping.role_prefix.len()..]));
        let Some(kind) = kind else {
            ignored.push(format!("{value}: not a role of this application"));
            continue;
        };
        match &staff_of {
            Some(Err(group)) => {
                ignored.push(format!("{value}: target group {group:?} is not configured"));
                continue;
            }
            Some(Ok(staff)) if staff.institution_kind() != kind.institution_kind() => {
                ignored.push(format!(
                    "{value}: a {} role, but the target group is {} staff",
                    kind.institution_kind(),
                    staff.institution_kind()
                ));
                continue;
            }
            _ => {}
        }
        // A role without institutions holds for the organisation the person logs in for.
        let numbers: Vec<String> = match numbers {
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_owned)
                .collect(),
            None => organisation.iter().cloned().collect(),
        };
        if numbers.is_empty() {
            ignored.push(format!("{value}: names no institution"));
        }
        for number in numbers {
            let grant = Grant { kind, number };
            if !grants.contains(&grant) {
                grants.push(grant);
            }
        }
    }
    Ok(Person {
        subject,
        email,
        display_name,
        grants,
        ignored,
    })
}

/// The role claim's values: one string, or an array of strings; anything else is none.
fn role_values(claim: Option<&Value>) -> Vec<&str> {
    match claim {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn mapping() -> Mapping {
        let config = crate::config::parse_for_tests(&[]).unwrap().oidc;
        Mapping::from_config(&config).unwrap()
    }

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    fn school(number: &str) -> Grant {
        Grant {
            kind: Kind::School,
            number: number.into(),
        }
    }

    #[test]
    fn roles_name_their_institutions_or_hold_for_the_organisation() {
        let person = read(
            &claims(json!({
                "sub": "abc", "email": "An.Wouters@School.test", "name": "An Wouters",
                "vo_doelgroepcode": "SCHOOL", "vo_orgcode": "100003",
                "dv_samenwerkingsdossier_rol_3d": [
                    "Samenwerkingsdossier_school:100001,100002",
                    "samenwerkingsdossier_SCHOOL:100001",
                    "Samenwerkingsdossier_school",
                    "AndereToepassing_school:100001",
                    "Samenwerkingsdossier_clb:900001"
                ]
            })),
            &mapping(),
        )
        .unwrap();
        assert_eq!(person.subject, "abc");
        assert_eq!(person.email, "an.wouters@school.test");
        assert_eq!(person.display_name, "An Wouters");
        assert_eq!(
            person.grants,
            [school("100001"), school("100002"), school("100003")]
        );
        assert_eq!(person.ignored.len(), 2, "{:?}", person.ignored);
        assert!(person.ignored[1].contains("target group is school staff"));
    }

    #[test]
    fn one_role_as_a_string_and_a_name_from_its_parts() {
        let person = read(
            &claims(json!({
                "sub": "x", "email": "bart@clb.test", "given_name": "Bart", "family_name": "Maes",
                "vo_doelgroepcode": "clb", "dv_samenwerkingsdossier_rol_3d": "Samenwerkingsdossier_clb:900001"
            })),
            &mapping(),
        )
        .unwrap();
        assert_eq!(person.display_name, "Bart Maes");
        assert_eq!(
            person.grants,
            [Grant {
                kind: Kind::Clb,
                number: "900001".into()
            }]
        );
    }

    #[test]
    fn missing_claims_are_named_and_no_role_claim_grants_nothing() {
        let base = json!({"sub": "x", "email": "a@b.test", "vo_doelgroepcode": "SCHOOL"});
        let person = read(&claims(base.clone()), &mapping()).unwrap();
        assert!(person.grants.is_empty());
        assert_eq!(person.display_name, "a@b.test");
        for claim in ["sub", "email", "vo_doelgroepcode"] {
            let mut without = claims(base.clone());
            without.remove(claim);
            assert_eq!(read(&without, &mapping()), Err(MissingClaim(claim.into())));
        }
        let mut blank = claims(base);
        blank.insert("email".into(), json!("  "));
        assert_eq!(read(&blank, &mapping()), Err(MissingClaim("email".into())));
    }

    #[test]
    fn a_clb_administrator_role_is_held_on_the_clb() {
        let person = read(
            &claims(json!({
                "sub": "x", "email": "beheer@clb.test", "vo_doelgroepcode": "CLB",
                "dv_samenwerkingsdossier_rol_3d": ["Samenwerkingsdossier_clbbeheer:900001", "Samenwerkingsdossier_clbbeheer:100001"]
            })),
            &mapping(),
        )
        .unwrap();
        let roles: Vec<(&str, &str)> = person
            .grants
            .iter()
            .map(|g| (g.kind.role(), g.number.as_str()))
            .collect();
        // Both taken here; the database then refuses 100001, which is no CLB.
        assert_eq!(roles, [("clb_admin", "900001"), ("clb_admin", "100001")]);
    }

    #[test]
    fn an_unknown_target_group_grants_nothing() {
        let person = read(
            &claims(json!({
                "sub": "x", "email": "a@b.test", "vo_doelgroepcode": "BURGER",
                "dv_samenwerkingsdossier_rol_3d": ["Samenwerkingsdossier_school:100001"]
            })),
            &mapping(),
        )
        .unwrap();
        assert!(person.grants.is_empty());
        assert!(person.ignored[0].contains("BURGER"));
    }

    #[test]
    fn malformed_target_group_settings_are_refused() {
        for bad in ["SCHOOL", "SCHOOL=university", "=school"] {
            let config = crate::config::parse_for_tests(&["--oidc-target-groups", bad])
                .unwrap()
                .oidc;
            assert!(Mapping::from_config(&config).is_err(), "{bad}");
        }
    }
}
