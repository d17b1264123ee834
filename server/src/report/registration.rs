//! A registration, or a school year of them, for print (the export for the doorlichting):
//! what it is, its sections, its history with who wrote what, and optionally its comments.

use std::collections::BTreeMap;

use samen_crdt::Section;

use super::pdf::{Block, Report};
use crate::db::{Comment, Institution, Registration, SnapshotKind, SnapshotMeta, Thread};
use crate::domain::day_in_words;

/// What an export of one registration holds.
pub struct Exported {
    /// The registration.
    pub registration: Registration,
    /// Each section's plain text, by root name.
    pub sections: BTreeMap<&'static str, String>,
    /// Its versions, newest first (as the history lists them).
    pub versions: Vec<SnapshotMeta>,
    /// Its comment threads, when the export includes them.
    pub threads: Option<Vec<Thread>>,
}

/// A day (ms since the epoch, UTC) in words: "5 oktober 2026".
pub fn day_of(ms: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)) {
        Ok(at) => day_in_words(&at.date().to_string()),
        Err(_) => String::new(),
    }
}

/// A section's heading as the app names it.
fn section_label(section: &str, kind: &str) -> &'static str {
    match section {
        "summary" if kind == "consultation" => "Vraag",
        "summary" => "Signaal",
        "understanding" => "Hoe begrijpen we dit?",
        "advice" => "Advies van het CLB",
        "goals" => "Doelen",
        "agreements" => "Afspraken en bijsturingen",
        "status_note" => "Stand van zaken",
        _ => "Sectie",
    }
}

fn kind_label(kind: &str) -> &'static str {
    match kind {
        "consultation" => "Consultatieve leerlingenbegeleiding",
        _ => "Signaal",
    }
}

/// One line about a version: what kind, when, by whom, what changed and who wrote it.
fn version_line(v: &SnapshotMeta, kind: &str) -> String {
    let what = match (&v.kind, &v.name) {
        (SnapshotKind::Named, Some(name)) => format!("\u{201c}{name}\u{201d}"),
        (SnapshotKind::Restore, _) => "Teruggezette versie".to_owned(),
        _ => "Automatische versie".to_owned(),
    };
    let mut line = format!("{what}, {}", day_of(v.created_at));
    if let Some(by) = &v.created_by {
        line.push_str(&format!(", door {}", by.name));
    }
    // In the order of the page, not of the names.
    let changed: Vec<String> = Section::ALL
        .into_iter()
        .filter_map(|section| {
            let name = section.root_name();
            v.summary.sections.get(name).map(|stats| {
                format!(
                    "{} (+{} \u{2212}{})",
                    section_label(name, kind),
                    stats.added,
                    stats.removed
                )
            })
        })
        .collect();
    if !changed.is_empty() {
        line.push_str(&format!(". Gewijzigd: {}", changed.join(", ")));
    }
    let authors: Vec<&str> = v.summary.authors.iter().map(|a| a.name.as_str()).collect();
    if !authors.is_empty() {
        line.push_str(&format!(". Geschreven door {}", authors.join(", ")));
    }
    line
}

fn comment_line(c: &Comment) -> String {
    if c.deleted {
        return format!("{} ({}): [verwijderd]", c.author.name, day_of(c.created_at));
    }
    format!("{} ({}): {}", c.author.name, day_of(c.created_at), c.body)
}

/// The blocks of one registration, its title as a heading.
pub fn blocks(e: &Exported) -> Vec<Block> {
    let r = &e.registration;
    let mut out = vec![
        Block::Heading(r.title.clone()),
        Block::Note(format!(
            "{} · {} · {} · gestart door {} op {} · laatst gewijzigd {}",
            kind_label(&r.kind),
            r.theme
                .as_deref()
                .map_or("geen thema".to_owned(), |t| format!("thema {t}")),
            if r.status == "closed" {
                "afgesloten"
            } else {
                "open"
            },
            r.owner.name,
            day_of(r.created_at),
            day_of(r.updated_at),
        )),
    ];
    for section in Section::ALL {
        let name = section.root_name();
        out.push(Block::Subheading(section_label(name, &r.kind).to_owned()));
        match e.sections.get(name).filter(|t| !t.trim().is_empty()) {
            Some(text) => out.push(Block::Paragraph(text.clone())),
            None => out.push(Block::Note("Nog niets ingevuld.".into())),
        }
    }
    out.push(Block::Subheading("Geschiedenis".into()));
    if e.versions.is_empty() {
        out.push(Block::Note("Nog geen versies bewaard.".into()));
    }
    // Oldest first: the history as it happened.
    for v in e.versions.iter().rev() {
        out.push(Block::Bullet(version_line(v, &r.kind)));
    }
    if let Some(threads) = &e.threads {
        out.push(Block::Subheading("Reacties".into()));
        if threads.is_empty() {
            out.push(Block::Note("Geen reacties.".into()));
        }
        for thread in threads {
            let status = if thread.status == "resolved" {
                "opgelost"
            } else {
                "open"
            };
            out.push(Block::Note(format!(
                "Gesprek gestart door {} ({status})",
                thread.created_by.name
            )));
            for c in &thread.comments {
                out.push(Block::Bullet(comment_line(c)));
            }
        }
    }
    out
}

/// The export of one registration.
pub fn single(e: &Exported) -> Report {
    let r = &e.registration;
    let mut blocks = blocks(e);
    // The title is the report's: the heading would say it twice.
    blocks.remove(0);
    Report {
        title: r.title.clone(),
        subtitle: format!("{} · schooljaar {}", r.school_name, r.school_year),
        footer: format!(
            "Samen · samenwerkingsdossier {} · {}",
            r.school_name, r.school_year
        ),
        blocks,
    }
}

/// The export of a school's registrations of one school year, each from a new page.
pub fn school_year(school: &Institution, year: &str, all: &[Exported]) -> Report {
    let open = all.iter().filter(|e| e.registration.status == "open").count();
    let mut blocks = vec![Block::Paragraph(format!(
        "{} registraties in schooljaar {year}: {open} open, {} afgesloten.",
        all.len(),
        all.len() - open
    ))];
    for e in all {
        blocks.push(Block::Bullet(format!(
            "{} — {}, {}",
            e.registration.title,
            kind_label(&e.registration.kind),
            if e.registration.status == "closed" {
                "afgesloten"
            } else {
                "open"
            }
        )));
    }
    for e in all {
        blocks.push(Block::PageBreak);
        blocks.extend(self::blocks(e));
    }
    Report {
        title: format!("Samenwerkingsdossier {}", school.name),
        subtitle: format!("Schooljaar {year} · instellingsnummer {}", school.number),
        footer: format!("Samen · samenwerkingsdossier {} · {year}", school.name),
        blocks,
    }
}
