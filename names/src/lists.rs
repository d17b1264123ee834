//! The word lists the detector looks names up in, built once from the data shipped in `data/`.

use std::collections::HashSet;
use std::sync::OnceLock;

/// Lowercase sets of names and of what must not be taken for one.
pub struct Lists {
    /// First names: Dutch and Flemish, and those common among pupils of other origins.
    pub first: HashSet<String>,
    /// Surnames, each word of a surname written with a particle included (`smet` of `De Smet`).
    pub surnames: HashSet<String>,
    /// Surnames of more than one word, as a phrase (`de smet`, `van den broeck`, `el amrani`).
    pub surname_phrases: HashSet<String>,
    /// Names that are also ordinary Dutch words (`roos`, `hoop`, `mei`, `dan`): at the start
    /// of a sentence or lowercase, a name only with evidence.
    pub also_words: HashSet<String>,
    /// What belongs in a dossier: places, roles, subjects, themes, methods, months and days.
    pub allowed: Phrases,
    /// Particles of surnames (`van`, `de`, `van den`, `vanden`, `el`).
    pub particles: Phrases,
}

/// A set of lowercase phrases of one or more words, looked up by their words.
#[derive(Default)]
pub struct Phrases {
    phrases: HashSet<String>,
    /// The first word of every phrase, so that a window is only built where one can start.
    firsts: HashSet<String>,
    /// Acronyms, matched as written: `LARS` the software is allowed, `Lars` the boy is not.
    acronyms: HashSet<String>,
    /// The most words any phrase has.
    pub longest: usize,
}

impl Phrases {
    /// Adds one phrase; words are split on whitespace and lowercased.
    pub fn insert(&mut self, phrase: &str) {
        let is_acronym = !phrase.contains(char::is_whitespace)
            && phrase.chars().filter(|c| c.is_alphabetic()).count() >= 2
            && !phrase.chars().any(char::is_lowercase);
        if is_acronym {
            self.acronyms.insert(phrase.to_owned());
            return;
        }
        let words: Vec<String> = phrase.split_whitespace().map(str::to_lowercase).collect();
        let Some(first) = words.first() else { return };
        self.firsts.insert(first.clone());
        self.longest = self.longest.max(words.len());
        self.phrases.insert(words.join(" "));
    }

    /// Whether this word, as written, is an allowed acronym.
    pub fn is_acronym(&self, word: &str) -> bool {
        self.acronyms.contains(word)
    }

    /// Whether some phrase starts with this lowercase word.
    pub fn starts_with(&self, word: &str) -> bool {
        self.firsts.contains(word)
    }

    /// Whether these lowercase words, joined by spaces, are a phrase.
    pub fn contains(&self, joined: &str) -> bool {
        self.phrases.contains(joined)
    }
}

/// Sayings with a name in them that name nobody.
const SAYINGS: &str = "jan en alleman\njan modaal\njan met de pet\nklein duimpje\nsinterklaas\n\
    zwarte piet\nkerstman\nsint-maarten\nsint-niklaas";

const MONTHS_AND_DAYS: &str = "januari februari maart april mei juni juli augustus september oktober \
    november december maandag dinsdag woensdag donderdag vrijdag zaterdag zondag";

fn lines(data: &str) -> impl Iterator<Item = &str> {
    data.lines().map(str::trim).filter(|l| !l.is_empty())
}

/// The lists, built the first time they are needed.
pub fn lists() -> &'static Lists {
    static LISTS: OnceLock<Lists> = OnceLock::new();
    LISTS.get_or_init(build)
}

fn build() -> Lists {
    let mut first = HashSet::new();
    for data in [
        include_str!("../data/deduce/first_names.txt"),
        include_str!("../data/extra/first_names_flemish.txt"),
        include_str!("../data/extra/first_names_other_origin.txt"),
    ] {
        first.extend(lines(data).map(str::to_lowercase));
    }
    let mut surnames = HashSet::new();
    let mut surname_phrases = HashSet::new();
    for data in [
        include_str!("../data/deduce/surnames.txt"),
        include_str!("../data/deduce/interfix_surnames.txt"),
        include_str!("../data/extra/surnames_flemish.txt"),
        include_str!("../data/extra/surnames_other_origin.txt"),
    ] {
        for name in lines(data) {
            let name = name.to_lowercase();
            let words: Vec<&str> = name.split_whitespace().collect();
            if words.len() > 1 {
                surname_phrases.insert(words.join(" "));
            }
            // A particle is no surname on its own (`'t Wout` gives `wout`, not `'t`).
            if let Some(last) = words.last() {
                surnames.insert((*last).to_string());
            }
        }
    }
    let mut also_words = HashSet::new();
    for data in [
        include_str!("../data/name_words.txt"),
        include_str!("../data/extra/common_words_capitalised.txt"),
    ] {
        also_words.extend(lines(data).map(str::to_lowercase));
    }
    // Judged by hand: in a dossier these are names (`koen`, `wout`), whatever a list says.
    for name in lines(include_str!("../data/names_not_words.txt")) {
        also_words.remove(name);
    }

    let mut allowed = Phrases::default();
    for data in [
        include_str!("../data/extra/municipalities_flanders.txt"),
        include_str!("../data/extra/roles.txt"),
        include_str!("../data/extra/subjects.txt"),
        include_str!("../data/extra/themes.txt"),
        include_str!("../data/extra/methods.txt"),
        include_str!("../data/extra/countries.txt"),
        SAYINGS,
        MONTHS_AND_DAYS,
    ] {
        for phrase in lines(data) {
            if data == MONTHS_AND_DAYS {
                phrase.split_whitespace().for_each(|w| allowed.insert(w));
            } else {
                allowed.insert(phrase);
            }
        }
    }
    let mut particles = Phrases::default();
    for particle in lines(include_str!("../data/deduce/interfixes.txt")) {
        // Abbreviated particles (`v.d.`) are written with full stops the tokenizer splits off.
        if particle
            .chars()
            .all(|c| c.is_alphabetic() || c == ' ' || c == '\'')
        {
            particles.insert(particle);
        }
    }
    for particle in ["vanden", "vander", "vande", "el", "ait"] {
        particles.insert(particle);
    }
    Lists {
        first,
        surnames,
        surname_phrases,
        also_words,
        allowed,
        particles,
    }
}
