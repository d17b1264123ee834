//! The meeting document (schoolbeeldoverleg) and the school–LSC agreements: their roots,
//! and which partner writes each (DESIGN.md, "Who may do what"; issue 16).
//!
//! A meeting follows the leidraad the learning-support centre sends beforehand. Its parts
//! are roots of the CRDT document, so that the policy (`policy::check_roots`) can tell from
//! the raw update which part it writes, as for a registration's sections:
//!
//! | root | what | who writes |
//! |---|---|---|
//! | `priorities` | the order of the priorities (a `Y.Array` of priority ids) | all |
//! | `p.<id>.title` | a priority | all |
//! | `p.<id>.school`, `p.<id>.clb` | that partner's expectations of it | school, CLB |
//! | `p.<id>.lsc.<number>` | the expectations of the LSC with that number | that LSC |
//! | `trajectories.<number>` | that LSC's overview of learning-support trajectories (counts only) | that LSC |
//! | `time_frame.<number>` | the time frame that LSC offers, and how it is divided | that LSC |
//! | `work_plan` | what we will work on, and how | all |
//! | `actions` | action items (a task list: what, who, by when, done) | all |
//! | `second_moment` | when to meet again and what to evaluate then | all |
//! | `report` | the report (verslag) | all |
//!
//! Priority ids are made by the app (1–16 characters, `a-z`, `0-9`); LSC numbers are
//! institution numbers (1–32 characters, `A-Z`, `a-z`, `0-9`). A root of any other name
//! is not part of a meeting, and an update that writes one is refused.
//!
//! The school–LSC agreements (samenwerkingsafspraken) have two roots, `agreements` and
//! `report`, written by that school and that LSC (the only ones who see them at all).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use yrs::{Any, Array, Doc, GetString, Map, Out, ReadTxn, Transact};

use crate::text::root_text;

/// Who a person is at a school's table: the school, its CLB, or one of its LSCs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Partner {
    /// A member of the school (`school_dossier`).
    School,
    /// Staff of a CLB that serves the school.
    Clb,
    /// Staff of the LSC with this institution number, which serves the school.
    Lsc(String),
}

impl Partner {
    /// The partner's key in root names and action items: `school`, `clb`, `lsc.<number>`.
    pub fn key(&self) -> String {
        match self {
            Partner::School => "school".into(),
            Partner::Clb => "clb".into(),
            Partner::Lsc(number) => format!("lsc.{number}"),
        }
    }
}

/// A part of a meeting: what its root holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MeetingRoot<'a> {
    /// The order of the priorities.
    Priorities,
    /// A priority's title.
    PriorityTitle(&'a str),
    /// A partner's expectations of a priority.
    Expectations(&'a str, Partner),
    /// An LSC's overview of learning-support trajectories.
    Trajectories(&'a str),
    /// The time frame an LSC offers.
    TimeFrame(&'a str),
    /// What we will work on, and how.
    WorkPlan,
    /// The action items.
    Actions,
    /// The second moment.
    SecondMoment,
    /// The report.
    Report,
}

fn is_id(s: &str) -> bool {
    (1..=16).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

fn is_number(s: &str) -> bool {
    (1..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

impl<'a> MeetingRoot<'a> {
    /// The part a root name holds, if a meeting has it.
    pub fn parse(name: &'a str) -> Option<MeetingRoot<'a>> {
        let fixed = match name {
            "priorities" => Some(MeetingRoot::Priorities),
            "work_plan" => Some(MeetingRoot::WorkPlan),
            "actions" => Some(MeetingRoot::Actions),
            "second_moment" => Some(MeetingRoot::SecondMoment),
            "report" => Some(MeetingRoot::Report),
            _ => None,
        };
        if fixed.is_some() {
            return fixed;
        }
        if let Some(number) = name.strip_prefix("trajectories.") {
            return is_number(number).then_some(MeetingRoot::Trajectories(number));
        }
        if let Some(number) = name.strip_prefix("time_frame.") {
            return is_number(number).then_some(MeetingRoot::TimeFrame(number));
        }
        let (id, part) = name.strip_prefix("p.")?.split_once('.')?;
        if !is_id(id) {
            return None;
        }
        match part {
            "title" => Some(MeetingRoot::PriorityTitle(id)),
            "school" => Some(MeetingRoot::Expectations(id, Partner::School)),
            "clb" => Some(MeetingRoot::Expectations(id, Partner::Clb)),
            _ => {
                let number = part.strip_prefix("lsc.")?;
                is_number(number).then(|| MeetingRoot::Expectations(id, Partner::Lsc(number.to_owned())))
            }
        }
    }

    /// Whether the part is rich text (an `XmlFragment` the app edits with Tiptap), as
    /// opposed to the priorities' order, a title or the action items.
    pub fn is_text(&self) -> bool {
        !matches!(
            self,
            MeetingRoot::Priorities | MeetingRoot::PriorityTitle(_) | MeetingRoot::Actions
        )
    }

    /// Whether `partner` may write this part.
    pub fn writable_by(&self, partner: &Partner) -> bool {
        match self {
            MeetingRoot::Expectations(_, owner) => owner == partner,
            MeetingRoot::Trajectories(number) | MeetingRoot::TimeFrame(number) => {
                matches!(partner, Partner::Lsc(own) if own == number)
            }
            MeetingRoot::Priorities
            | MeetingRoot::PriorityTitle(_)
            | MeetingRoot::WorkPlan
            | MeetingRoot::Actions
            | MeetingRoot::SecondMoment
            | MeetingRoot::Report => true,
        }
    }
}

/// The rule of a meeting's document for `partner` (for `policy::check_roots`): `None` for a
/// root a meeting does not have.
pub fn meeting_rule(partner: &Partner) -> impl Fn(&str) -> Option<bool> + '_ {
    move |root| MeetingRoot::parse(root).map(|part| part.writable_by(partner))
}

/// The roots of the school–LSC agreements.
pub const AGREEMENT_ROOTS: [&str; 2] = ["agreements", "report"];

/// The rule of a school–LSC agreements document: the two partners who see it write all of
/// it (nobody else reaches it).
pub fn agreement_rule(root: &str) -> Option<bool> {
    AGREEMENT_ROOTS.contains(&root).then_some(true)
}

/// An action item as the app writes it: a `Y.Map` in the `actions` array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionItem {
    /// Its id, made by the app.
    pub id: String,
    /// What is to be done.
    pub what: String,
    /// Whose it is: `school`, `clb`, `lsc.<number>` or `user:<id>`.
    pub owner: String,
    /// By when (`YYYY-MM-DD`), or `""`.
    pub due: String,
    /// Whether it is done.
    pub done: bool,
}

/// A priority with what each partner expects of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PriorityText {
    /// Its id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// The expectations by partner key (`school`, `clb`, `lsc.<number>`); absent when empty.
    pub expectations: BTreeMap<String, String>,
}

/// What a meeting's document says, as plain text: for reports and lists, without a browser.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MeetingText {
    /// The priorities, in their order.
    pub priorities: Vec<PriorityText>,
    /// Every other part that holds text, by root name (`work_plan`, `trajectories.<number>`,
    /// …); empty parts are left out.
    pub parts: BTreeMap<String, String>,
    /// The action items, in their order.
    pub actions: Vec<ActionItem>,
}

impl MeetingText {
    /// The text of a part, `""` when empty.
    pub fn part(&self, root: &str) -> &str {
        self.parts.get(root).map_or("", String::as_str)
    }
}

fn string_of(value: Option<Out>) -> String {
    match value {
        Some(Out::Any(Any::String(s))) => s.to_string(),
        _ => String::new(),
    }
}

/// Reads a meeting's document. What a client wrote in another shape than the app's (a
/// number where text belongs, a priority id listed twice) is skipped, never a panic: the
/// document is what its writers made it.
pub fn read(doc: &Doc) -> MeetingText {
    let txn = doc.transact();
    let mut text = MeetingText::default();
    let mut expectations: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let names: Vec<Arc<str>> = txn.root_refs().map(|(name, _)| Arc::from(name)).collect();
    for name in &names {
        match MeetingRoot::parse(name) {
            Some(MeetingRoot::Expectations(id, partner)) => {
                let said = root_text(&txn, name);
                if !said.trim().is_empty() {
                    expectations
                        .entry(id.to_owned())
                        .or_default()
                        .insert(partner.key(), said);
                }
            }
            Some(
                MeetingRoot::Trajectories(_)
                | MeetingRoot::TimeFrame(_)
                | MeetingRoot::WorkPlan
                | MeetingRoot::SecondMoment
                | MeetingRoot::Report,
            ) => {
                let said = root_text(&txn, name);
                if !said.trim().is_empty() {
                    text.parts.insert(name.to_string(), said);
                }
            }
            _ => {}
        }
    }
    if let Some(order) = txn.get_array("priorities") {
        for value in order.iter(&txn) {
            let id = string_of(Some(value));
            if !is_id(&id) || text.priorities.iter().any(|p| p.id == id) {
                continue;
            }
            let title = txn
                .get_text(format!("p.{id}.title"))
                .map(|t| t.get_string(&txn))
                .unwrap_or_default();
            text.priorities.push(PriorityText {
                expectations: expectations.remove(&id).unwrap_or_default(),
                id,
                title,
            });
        }
    }
    if let Some(list) = txn.get_array("actions") {
        for value in list.iter(&txn) {
            let Out::YMap(map) = value else { continue };
            let item = ActionItem {
                id: string_of(map.get(&txn, "id")),
                what: string_of(map.get(&txn, "what")),
                owner: string_of(map.get(&txn, "owner")),
                due: string_of(map.get(&txn, "due")),
                done: matches!(map.get(&txn, "done"), Some(Out::Any(Any::Bool(true)))),
            };
            if !item.what.trim().is_empty() {
                text.actions.push(item);
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_part_is_written_by_its_partner() {
        let (school, clb) = (Partner::School, Partner::Clb);
        let (lsc, other_lsc) = (Partner::Lsc("800001".into()), Partner::Lsc("800002".into()));
        let may = |partner: &Partner, root: &str| meeting_rule(partner)(root);
        for shared in [
            "priorities",
            "p.a1.title",
            "work_plan",
            "actions",
            "second_moment",
            "report",
        ] {
            for partner in [&school, &clb, &lsc] {
                assert_eq!(may(partner, shared), Some(true), "{shared} by {partner:?}");
            }
        }
        assert_eq!(may(&school, "p.a1.school"), Some(true));
        assert_eq!(may(&clb, "p.a1.school"), Some(false));
        assert_eq!(may(&lsc, "p.a1.clb"), Some(false));
        assert_eq!(may(&clb, "p.a1.clb"), Some(true));
        assert_eq!(may(&lsc, "p.a1.lsc.800001"), Some(true));
        assert_eq!(
            may(&other_lsc, "p.a1.lsc.800001"),
            Some(false),
            "each LSC its own"
        );
        assert_eq!(may(&school, "p.a1.lsc.800001"), Some(false));
        assert_eq!(may(&lsc, "trajectories.800001"), Some(true));
        assert_eq!(may(&other_lsc, "trajectories.800001"), Some(false));
        assert_eq!(may(&clb, "time_frame.800001"), Some(false));
        assert_eq!(may(&lsc, "time_frame.800001"), Some(true));
    }

    #[test]
    fn roots_a_meeting_does_not_have_are_unknown() {
        for name in [
            "",
            "summary",
            "goals",
            "p.",
            "p.a1",
            "p.a1.",
            "p.A1.title",
            "p.a-1.title",
            "p.abcdefghijklmnopq.title",
            "p.a1.lsc.",
            "p.a1.lsc.80 01",
            "p.a1.parents",
            "trajectories.",
            "trajectories.8/1",
            "time_frame",
            "Report",
        ] {
            assert_eq!(MeetingRoot::parse(name), None, "{name:?}");
            assert_eq!(meeting_rule(&Partner::Clb)(name), None, "{name:?}");
        }
        assert_eq!(
            MeetingRoot::parse("p.abcdefghijklmnop.lsc.800001"),
            Some(MeetingRoot::Expectations(
                "abcdefghijklmnop",
                Partner::Lsc("800001".into())
            ))
        );
    }

    #[test]
    fn the_policy_reads_which_part_an_update_writes() {
        use yrs::types::xml::{XmlElementPrelim, XmlFragment, XmlTextPrelim};
        use yrs::{Array, ReadTxn, StateVector, Transact, WriteTxn};

        use crate::policy::{PolicyError, SectionIndex, check_roots};
        use crate::validate::{Limits, parse_update_v1};

        let doc = crate::schema::new_doc_with_client_id(Some(crate::ClientId::new(3)));
        {
            let mut txn = doc.transact_mut();
            let order = txn.get_or_insert_array("priorities");
            order.push_back(&mut txn, "a1");
            let mine = txn.get_or_insert_xml_fragment("p.a1.lsc.800001");
            let p = mine.push_back(&mut txn, XmlElementPrelim::empty("paragraph"));
            p.push_back(&mut txn, XmlTextPrelim::new("Ondersteuning in de klas"));
        }
        let update = doc.transact().encode_state_as_update_v1(&StateVector::default());
        let info = parse_update_v1(&update, &Limits::default()).expect("valid");
        let effect = SectionIndex::default().classify(&info).expect("classify");
        let lsc = Partner::Lsc("800001".into());
        assert_eq!(check_roots(&effect, meeting_rule(&lsc)), Ok(()));
        assert_eq!(
            check_roots(&effect, meeting_rule(&Partner::Lsc("800002".into()))),
            Err(PolicyError::NotWritable("p.a1.lsc.800001".into()))
        );
        assert_eq!(
            check_roots(&effect, meeting_rule(&Partner::School)),
            Err(PolicyError::NotWritable("p.a1.lsc.800001".into()))
        );
        assert_eq!(
            check_roots(&effect, agreement_rule),
            Err(PolicyError::UnknownRoot("p.a1.lsc.800001".into())),
            "not a root of the agreements"
        );
    }

    #[test]
    fn a_meeting_reads_as_text_in_the_app_s_order() {
        use yrs::types::xml::{XmlElementPrelim, XmlFragment, XmlTextPrelim};
        use yrs::{Array, Map, MapPrelim, Text, Transact, WriteTxn};

        let doc = crate::schema::new_doc_with_client_id(Some(crate::ClientId::new(5)));
        {
            let mut txn = doc.transact_mut();
            let write = |txn: &mut yrs::TransactionMut, root: &str, line: &str| {
                let part = txn.get_or_insert_xml_fragment(root);
                let p = part.push_back(txn, XmlElementPrelim::empty("paragraph"));
                p.push_back(txn, XmlTextPrelim::new(line));
            };
            let order = txn.get_or_insert_array("priorities");
            // The second priority first; a bad id and a repeated one are skipped.
            order.push_back(&mut txn, "b2");
            order.push_back(&mut txn, "a1");
            order.push_back(&mut txn, "Not An Id");
            order.push_back(&mut txn, "b2");
            order.push_back(&mut txn, 42);
            txn.get_or_insert_text("p.a1.title")
                .insert(&mut txn, 0, "Leesbeleid");
            txn.get_or_insert_text("p.b2.title")
                .insert(&mut txn, 0, "Welbevinden");
            write(&mut txn, "p.b2.clb", "Één aanspreekpunt");
            write(&mut txn, "p.b2.lsc.800001", "Co-teaching");
            write(&mut txn, "work_plan", "We starten in oktober");
            write(&mut txn, "trajectories.800001", "3 trajecten type 9");
            write(&mut txn, "stray", "not a part of a meeting");
            let actions = txn.get_or_insert_array("actions");
            let first = actions.push_back(&mut txn, MapPrelim::default());
            first.insert(&mut txn, "id", "x1");
            first.insert(&mut txn, "what", "Leidraad rondsturen");
            first.insert(&mut txn, "owner", "lsc.800001");
            first.insert(&mut txn, "due", "2026-10-01");
            first.insert(&mut txn, "done", true);
            let second = actions.push_back(&mut txn, MapPrelim::default());
            second.insert(&mut txn, "what", 7);
            actions.push_back(&mut txn, "not a map");
        }
        let text = read(&doc);
        let titles: Vec<_> = text
            .priorities
            .iter()
            .map(|p| (p.id.as_str(), p.title.as_str()))
            .collect();
        assert_eq!(titles, [("b2", "Welbevinden"), ("a1", "Leesbeleid")]);
        assert_eq!(text.priorities[0].expectations["clb"], "Één aanspreekpunt");
        assert_eq!(text.priorities[0].expectations["lsc.800001"], "Co-teaching");
        assert!(text.priorities[1].expectations.is_empty());
        assert_eq!(text.part("work_plan"), "We starten in oktober");
        assert_eq!(text.part("trajectories.800001"), "3 trajecten type 9");
        assert_eq!(text.part("report"), "");
        assert!(!text.parts.contains_key("stray"));
        assert_eq!(
            text.actions,
            [ActionItem {
                id: "x1".into(),
                what: "Leidraad rondsturen".into(),
                owner: "lsc.800001".into(),
                due: "2026-10-01".into(),
                done: true,
            }]
        );
        // Every piece of text, for the name guard: parts, titles and action items.
        let texts = crate::text::texts(&doc);
        let keys: Vec<&str> = texts.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "p.b2.clb",
                "p.b2.lsc.800001",
                "trajectories.800001",
                "work_plan",
                "p.b2.title",
                "p.a1.title",
                "actions.x1"
            ]
        );
        assert!(texts.contains(&("actions.x1".into(), "Leidraad rondsturen".into())));
    }

    #[test]
    fn agreements_have_two_roots() {
        assert_eq!(agreement_rule("agreements"), Some(true));
        assert_eq!(agreement_rule("report"), Some(true));
        assert_eq!(agreement_rule("goals"), None);
    }
}
