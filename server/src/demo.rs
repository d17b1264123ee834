//! Demo data (`samen serve --demo`, loopback only): the CLB, schools, users and a few
//! registrations of DESIGN.md. Idempotent: what exists is left alone. It is only written
//! into a database that holds nothing but demo data (`not_demo_data`): the demo users'
//! password is public, and one of them is an admin.
//!
//! The registrations' text is written as the server's own edit, with a fresh client ID
//! bound to the registration's owner, as every server-side edit is.

use samen_crdt::{ClientId, Section};
use yrs::types::xml::{XmlElementPrelim, XmlFragment, XmlTextPrelim};
use yrs::{ReadTxn, StateVector, Transact};

use crate::auth::password::hash_password;
use crate::db::{Db, Institution, NewRegistration, User};
use crate::ids::RegistrationId;
use crate::storage::{NewUpdate, Store};

/// The demo password of every demo user.
pub const PASSWORD: &str = "demo";

/// Demo users: e-mail, name, role, institution number.
pub const USERS: [(&str, &str, &str, Option<&str>); 5] = [
    ("clb@demo.test", "Sara Claes (CLB)", "clb_staff", Some("900001")),
    (
        "linde@demo.test",
        "Tom Peeters (De Linde)",
        "school_dossier",
        Some("100001"),
    ),
    (
        "anker@demo.test",
        "Nadia El Amrani (Het Anker)",
        "school_dossier",
        Some("100002"),
    ),
    (
        "lsc@demo.test",
        "Lotte Janssens (LSC)",
        "lsc_staff",
        Some("800001"),
    ),
    ("admin@demo.test", "Beheerder", "admin", None),
];

struct DemoRegistration {
    id: &'static str,
    school: &'static str,
    kind: &'static str,
    title: &'static str,
    theme: &'static str,
    sections: &'static [(Section, &'static str)],
}

const REGISTRATIONS: [DemoRegistration; 4] = [
    DemoRegistration {
        id: "6b0f3d0e-2f4a-4c41-9a61-0c6f1e0d0001",
        school: "100001",
        kind: "signal",
        title: "Meer meldingen van pesten tijdens de middagpauze",
        theme: "pesten",
        sections: &[
            (
                Section::Summary,
                "Sinds de herfstvakantie krijgt het CLB meer meldingen van pesten tijdens de middagpauze, vooral in de derde graad.",
            ),
            (
                Section::Understanding,
                "De meldingen gaan over uitsluiten en spotten, minder over fysiek geweld. Het toezicht op de speelplaats is beperkt tijdens de tweede pauze.",
            ),
            (
                Section::Advice,
                "Bespreek het signaal op de volgende cel leerlingenbegeleiding en overweeg een bevraging van het welbevinden in de derde graad.",
            ),
            (
                Section::Goals,
                "Tegen de krokusvakantie weten we waar en wanneer het pesten gebeurt.",
            ),
        ],
    },
    DemoRegistration {
        id: "6b0f3d0e-2f4a-4c41-9a61-0c6f1e0d0002",
        school: "100001",
        kind: "consultation",
        title: "Omgaan met faalangst bij toetsen in het vijfde leerjaar",
        theme: "welbevinden",
        sections: &[
            (
                Section::Summary,
                "Het team van het vijfde leerjaar vraagt hoe het faalangst rond toetsen kan opvangen in de klas.",
            ),
            (
                Section::Advice,
                "Werk met voorspelbare toetsmomenten en oefentoetsen zonder punten; het CLB geeft een korte vorming aan het team.",
            ),
        ],
    },
    DemoRegistration {
        id: "6b0f3d0e-2f4a-4c41-9a61-0c6f1e0d0003",
        school: "100002",
        kind: "signal",
        title: "Toename van problematische afwezigheden in het tweede jaar",
        theme: "leerplicht/spijbelen",
        sections: &[
            (
                Section::Summary,
                "Het aantal problematische afwezigheden in het tweede jaar ligt dit trimester hoger dan vorig schooljaar.",
            ),
            (
                Section::StatusNote,
                "Eerste bespreking gepland op het schoolbeeldoverleg.",
            ),
        ],
    },
    DemoRegistration {
        id: "6b0f3d0e-2f4a-4c41-9a61-0c6f1e0d0004",
        school: "100002",
        kind: "consultation",
        title: "Klasaanpak bij storend gedrag in de eerste graad",
        theme: "gedrag",
        sections: &[(
            Section::Summary,
            "Leerkrachten van de eerste graad vragen advies over een gezamenlijke klasaanpak bij storend gedrag.",
        )],
    },
];

/// Why seeding failed.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    /// Document storage failed.
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
    /// Hashing failed.
    #[error("password hashing: {0}")]
    Hash(String),
}

/// The demo's institution numbers: CLB Demo, De Linde, Het Anker.
pub const INSTITUTIONS: [&str; 5] = ["900001", "100001", "100002", "800001", "800002"];

/// Something in the database the demo did not make (a user or an institution), described
/// for the error message, or `None` when everything there is the demo's. Registrations and
/// comments do not count: demo users make those while trying Samen out.
pub async fn not_demo_data(db: &Db) -> Result<Option<String>, DemoError> {
    let emails = USERS.map(|(email, ..)| email);
    if let Some(email) = db.user_not_in(&emails).await? {
        return Ok(Some(format!("the user {email}")));
    }
    if let Some(number) = db.institution_not_in(&INSTITUTIONS).await? {
        return Ok(Some(format!("the institution {number}")));
    }
    Ok(None)
}

async fn institution(db: &Db, kind: &str, number: &str, name: &str) -> Result<Institution, DemoError> {
    Ok(match db.institution(number).await? {
        Some(i) => i,
        None => db.create_institution(kind, number, name).await?,
    })
}

/// Writes the demo data that is not there yet.
pub async fn seed(db: &Db, store: &Store) -> Result<(), DemoError> {
    let [clb, linde, anker, lsc, specific] = INSTITUTIONS;
    let clb = institution(db, "clb", clb, "CLB Demo").await?;
    let linde = institution(db, "school", linde, "Basisschool De Linde").await?;
    let anker = institution(db, "school", anker, "Middenschool Het Anker").await?;
    db.link_school(clb.id, linde.id).await?;
    db.link_school(clb.id, anker.id).await?;
    // One LSC for the broad types serves both schools; a specific one serves De Linde.
    let lsc = institution(db, "lsc", lsc, "LSC Demo").await?;
    let specific = institution(db, "lsc", specific, "LSC Specifiek Demo").await?;
    db.link_lsc(lsc.id, linde.id).await?;
    db.link_lsc(lsc.id, anker.id).await?;
    db.link_lsc(specific.id, linde.id).await?;

    let mut users: Vec<User> = Vec::new();
    for (email, name, role, number) in USERS {
        let user = match db.user_by_email(email).await? {
            Some((user, _)) => user,
            None => {
                let hash = hash_password(PASSWORD).map_err(|e| DemoError::Hash(e.to_string()))?;
                db.create_user(email, name, &hash).await?
            }
        };
        let institution = match number {
            Some(n) => db.institution(n).await?.map(|i| i.id),
            None => None,
        };
        db.grant(&user.id, role, institution).await?;
        users.push(user);
    }
    let owner = &users[0];

    for demo in &REGISTRATIONS {
        let Ok(id) = demo.id.parse::<RegistrationId>() else {
            continue;
        };
        if db.registration(id).await?.is_some() {
            continue;
        }
        let school = if demo.school == linde.number {
            &linde
        } else {
            &anker
        };
        let new = NewRegistration {
            kind: demo.kind.into(),
            school_id: school.id,
            school_year: crate::domain::current_school_year(),
            title: demo.title.into(),
            theme: Some(demo.theme.into()),
            owner: owner.id.clone(),
        };
        db.create_registration_with_id(id, new).await?;
        if store.load(id.into()).await?.last_seq() == 0 {
            let (client, update) = document(demo.sections);
            let entry = NewUpdate {
                data: update,
                author: Some(owner.id.clone()),
                deleted: Vec::new(),
            };
            store
                .append(id.into(), 0, &[entry], &[(client, owner.id.clone())])
                .await?;
        }
    }
    tracing::info!(
        "demo data ready: log in as clb@demo.test, linde@demo.test, anker@demo.test or lsc@demo.test (password: demo)"
    );
    Ok(())
}

/// A document with one paragraph per section text, written with a fresh client ID: the
/// update and the client that wrote it.
pub fn document(sections: &[(Section, &str)]) -> (ClientId, Vec<u8>) {
    let doc = samen_crdt::new_doc();
    for (section, text) in sections {
        let fragment = doc.get_or_insert_xml_fragment(section.root_name());
        let mut txn = doc.transact_mut();
        let paragraph = fragment.push_back(&mut txn, XmlElementPrelim::empty("paragraph"));
        paragraph.push_back(&mut txn, XmlTextPrelim::new(*text));
    }
    let update = doc.transact().encode_state_as_update_v1(&StateVector::default());
    (doc.client_id().into(), update)
}
