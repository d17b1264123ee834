//! The report (verslag) of a meeting: what its document says, with who took part and which
//! registrations were discussed, for the printable page (JSON) and the PDF the server
//! renders (`pdf`).
//!
//! The report is per reader: an LSC's does not list the school's registrations, which it
//! does not see (DESIGN.md, "Who may do what").

pub mod docx;
pub mod pdf;
pub mod registration;

use std::collections::BTreeMap;

use samen_crdt::meeting::{MeetingText, Partner};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::{Institution, Meeting};
use crate::domain::day_in_words;
use crate::ids::RegistrationId;

/// A registration whose version was named when the meeting closed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Discussed {
    /// Its id.
    #[schema(value_type = String, format = "uuid")]
    pub id: RegistrationId,
    /// Its title.
    pub title: String,
    /// The name of the version kept at the close.
    pub version: String,
}

/// A meeting's report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MeetingReport {
    /// The meeting.
    pub meeting: Meeting,
    /// The learning-support centres at the table.
    pub lscs: Vec<Institution>,
    /// What the document says: priorities with expectations by partner key (`school`,
    /// `clb`, `lsc.<number>`), the other parts by root name, the action items.
    #[schema(value_type = Object)]
    pub text: MeetingText,
    /// Who each action item's owner is (`school`, `lsc.<number>`, `user:<id>`) in words.
    pub owners: BTreeMap<String, String>,
    /// The registrations discussed (a version named at the close); none for an LSC.
    pub registrations: Vec<Discussed>,
    /// The second moments planned.
    pub second_moments: Vec<Meeting>,
}

/// A partner key (`school`, `clb`, `lsc.<number>`) in words.
fn partner_name(key: &str, lscs: &[Institution]) -> String {
    match key {
        "school" => "School".into(),
        "clb" => "CLB".into(),
        _ => key
            .strip_prefix("lsc.")
            .and_then(|n| lscs.iter().find(|l| l.number == n))
            .map_or_else(|| "Leersteuncentrum".into(), |l| l.name.clone()),
    }
}

impl MeetingReport {
    /// The report of `meeting`, whose document says `text`.
    pub fn new(
        meeting: Meeting,
        lscs: Vec<Institution>,
        text: MeetingText,
        registrations: Vec<Discussed>,
        second_moments: Vec<Meeting>,
    ) -> MeetingReport {
        let mut owners = BTreeMap::new();
        for action in &text.actions {
            let name = match action.owner.strip_prefix("user:") {
                Some(id) => meeting
                    .participants
                    .iter()
                    .find(|p| p.id.as_str() == id)
                    .map_or_else(|| "Een deelnemer".into(), |p| p.name.clone()),
                None => partner_name(&action.owner, &lscs),
            };
            owners.insert(action.owner.clone(), name);
        }
        MeetingReport {
            meeting,
            lscs,
            text,
            owners,
            registrations,
            second_moments,
        }
    }

    /// The partner keys in the order a report lists them: school, CLB, each LSC.
    fn partner_keys(&self) -> Vec<String> {
        let mut keys = vec!["school".to_owned(), "clb".to_owned()];
        keys.extend(self.lscs.iter().map(|l| format!("lsc.{}", l.number)));
        keys
    }

    /// The report as blocks for print.
    pub fn to_print(&self) -> pdf::Report {
        use pdf::Block::{Bullet, Check, Heading, Note, Paragraph, Subheading};
        let m = &self.meeting;
        let empty = || Note("Nog niets ingevuld.".into());
        let mut blocks = Vec::new();

        blocks.push(Heading("Deelnemers".into()));
        for p in &m.participants {
            let key = p.as_partner().unwrap_or(Partner::School).key();
            let partner = partner_name(&key, &self.lscs);
            blocks.push(Bullet(format!("{} ({partner})", p.name)));
        }
        for guest in &m.guests {
            blocks.push(Bullet(guest.clone()));
        }

        blocks.push(Heading("Prioriteiten en verwachtingen".into()));
        if self.text.priorities.is_empty() {
            blocks.push(empty());
        }
        for (i, priority) in self.text.priorities.iter().enumerate() {
            let title = if priority.title.trim().is_empty() {
                "(zonder titel)"
            } else {
                &priority.title
            };
            blocks.push(Subheading(format!("{}. {title}", i + 1)));
            let mut any = false;
            for key in self.partner_keys() {
                if let Some(said) = priority.expectations.get(&key) {
                    blocks.push(Note(format!(
                        "Verwachtingen van {}",
                        partner_name(&key, &self.lscs)
                    )));
                    blocks.push(Paragraph(said.clone()));
                    any = true;
                }
            }
            if !any {
                blocks.push(empty());
            }
        }

        for (root, heading) in [
            ("trajectories", "Overzicht leersteuntrajecten"),
            ("time_frame", "Tijdskader van het leersteuncentrum"),
        ] {
            blocks.push(Heading(heading.into()));
            let mut any = false;
            for lsc in &self.lscs {
                let said = self.text.part(&format!("{root}.{}", lsc.number));
                if !said.is_empty() {
                    blocks.push(Subheading(lsc.name.clone()));
                    blocks.push(Paragraph(said.to_owned()));
                    any = true;
                }
            }
            if !any {
                blocks.push(empty());
            }
        }

        blocks.push(Heading("Wat we aanpakken en hoe".into()));
        blocks.push(self.paragraph("work_plan").unwrap_or_else(empty));

        blocks.push(Heading("Acties".into()));
        if self.text.actions.is_empty() {
            blocks.push(Note("Geen acties afgesproken.".into()));
        }
        for action in &self.text.actions {
            let mut line = format!(
                "{} — {}",
                action.what,
                self.owners.get(&action.owner).map_or("", String::as_str)
            );
            if !action.due.is_empty() {
                line.push_str(&format!(", tegen {}", day_in_words(&action.due)));
            }
            blocks.push(Check {
                done: action.done,
                text: line,
            });
        }

        blocks.push(Heading("Tweede moment".into()));
        for second in &self.second_moments {
            blocks.push(Subheading(format!(
                "Gepland op {}",
                day_in_words(&second.held_on)
            )));
        }
        match self.paragraph("second_moment") {
            Some(said) => blocks.push(said),
            None if self.second_moments.is_empty() => blocks.push(empty()),
            None => {}
        }

        blocks.push(Heading("Verslag".into()));
        blocks.push(self.paragraph("report").unwrap_or_else(empty));

        if !self.registrations.is_empty() {
            blocks.push(Heading("Besproken registraties".into()));
            for r in &self.registrations {
                blocks.push(Bullet(format!(
                    "{} — versie \u{201c}{}\u{201d} bewaard",
                    r.title, r.version
                )));
            }
        }

        let closed = match m.status.as_str() {
            "closed" => "afgesloten",
            _ => "nog niet afgesloten",
        };
        pdf::Report {
            title: m.title.clone(),
            subtitle: format!(
                "{} · {} · schooljaar {} · {closed}",
                m.school_name,
                day_in_words(&m.held_on),
                m.school_year
            ),
            footer: format!("Samen · verslag schoolbeeldoverleg · {}", m.school_name),
            blocks,
        }
    }

    fn paragraph(&self, root: &str) -> Option<pdf::Block> {
        let said = self.text.part(root);
        (!said.trim().is_empty()).then(|| pdf::Block::Paragraph(said.to_owned()))
    }
}
