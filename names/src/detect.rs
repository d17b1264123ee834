//! The rules: which tokens are a name, and how far a name reaches.

use crate::lists::{Lists, Phrases, lists};
use crate::tokens::{Shape, Token, tokenize};
use crate::{Finding, Kind};

/// Forms of address a name follows (`juf An`, `mevrouw Claes`), lowercase.
const TEACHER_TITLES: &[&str] = &[
    "juf", "juffrouw", "juffen", "meester", "meesters", "leraar", "lerares",
];
const POLITE_TITLES: &[&str] = &[
    "meneer", "mevrouw", "mijnheer", "mevr", "dhr", "mw", "heer", "mr", "dr", "dokter", "zuster",
];
const FAMILY_TITLES: &[&str] = &[
    "mama", "papa", "mams", "paps", "oma", "opa", "tante", "nonkel", "oom", "moeder", "vader", "broer",
    "zus", "broertje", "zusje", "neef", "nicht", "meme", "pepe", "bomma", "bompa",
];
/// Words after a possessive name (`Lottes ouders`).
const BELONGINGS: &[&str] = &[
    "ouders",
    "ouder",
    "moeder",
    "vader",
    "mama",
    "papa",
    "broer",
    "zus",
    "broertje",
    "zusje",
    "broers",
    "zussen",
    "oma",
    "opa",
    "grootouders",
    "pleegouders",
    "familie",
    "gezin",
    "thuissituatie",
    "klas",
    "klasgenoten",
    "vrienden",
    "juf",
    "meester",
    "rapport",
    "gedrag",
    "resultaten",
    "dossier",
    "situatie",
    "begeleiding",
    "verjaardag",
    "agenda",
    "fiets",
];
/// Letters with full stops that are abbreviations, not someone's initials.
const ABBREVIATIONS: &[&str] = &[
    "O.K.", "W.O.", "L.O.", "B.V.", "N.B.", "P.S.", "A.U.B.", "T.A.V.", "I.P.V.", "O.A.", "M.B.T.", "Z.O.Z.",
    "B.S.", "V.B.S.", "G.V.B.S.", "K.O.", "S.O.", "B.U.O.", "C.L.B.", "L.S.C.",
];
const ORDINALS: &[&str] = &[
    "eerste", "tweede", "derde", "vierde", "vijfde", "zesde", "zevende", "1ste", "2de", "3de", "4de", "5de",
    "6de", "1e", "2e", "3e", "4e", "5e", "6e",
];
/// Words before a noun that never stand before a person's name.
const ARTICLES: &[&str] = &["de", "het", "een", "'t", "deze", "dit", "die"];
const GRADES: &[&str] = &["leerjaar", "jaar", "graad", "kleuterklas", "klas", "middelbaar"];

/// The text's tokens with what the rules need to know about each.
struct Text<'a> {
    tokens: Vec<Token<'a>>,
    lower: Vec<String>,
    /// Covered by a phrase that belongs in a dossier (a place, role, subject, method).
    allowed: Vec<bool>,
    lists: &'static Lists,
}

pub fn detect(text: &str, extra_allowed: &Phrases) -> Vec<Finding> {
    let tokens = tokenize(text);
    let lower: Vec<String> = tokens.iter().map(|t| t.text.to_lowercase()).collect();
    let lists = lists();
    let mut allowed = vec![false; tokens.len()];
    for phrases in [&lists.allowed, extra_allowed] {
        cover(&tokens, &lower, phrases, &mut allowed);
    }
    let t = Text {
        tokens,
        lower,
        allowed,
        lists,
    };
    let mut findings = Vec::new();
    let mut i = 0;
    while i < t.tokens.len() {
        match t.finding_at(i) {
            Some((finding, next)) => {
                findings.push(finding);
                i = next;
            }
            None => i += 1,
        }
    }
    findings
        .into_iter()
        .map(|(kind, phrase, name, replacements)| Finding {
            start: t.tokens[name.0].start,
            end: t.tokens[name.1].end,
            phrase_start: t.tokens[phrase.0].start,
            phrase_end: t.tokens[phrase.1].end,
            kind,
            replacements,
        })
        .collect()
}

/// Marks the tokens covered by any of `phrases` (runs of adjacent words).
fn cover(tokens: &[Token<'_>], lower: &[String], phrases: &Phrases, allowed: &mut [bool]) {
    for i in 0..tokens.len() {
        if phrases.is_acronym(tokens[i].text) {
            allowed[i] = true;
        }
        if tokens[i].shape == Shape::Word && phrases.starts_with(&lower[i]) {
            let mut joined = String::new();
            for j in i..tokens.len().min(i + phrases.longest) {
                // `Rots & Water` is `Rots en Water`.
                let word = match tokens[j].shape {
                    Shape::Punct('&') => "en",
                    Shape::Punct(_) => break,
                    _ => lower[j].as_str(),
                };
                if j > i {
                    joined.push(' ');
                }
                // `Rots en Water-oefeningen` holds `Rots en Water`.
                if let Some((head, _)) = word.split_once('-')
                    && j > i
                    && phrases.contains(&format!("{joined}{head}"))
                {
                    allowed[i..=j].iter_mut().for_each(|a| *a = true);
                }
                joined.push_str(word);
                if phrases.contains(&joined) {
                    allowed[i..=j].iter_mut().for_each(|a| *a = true);
                }
            }
        }
    }
}

/// (kind, phrase tokens, name tokens, replacements), token ranges inclusive.
type Found = (Kind, (usize, usize), (usize, usize), Vec<String>);

fn strings(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| (*w).to_string()).collect()
}

impl Text<'_> {
    fn word(&self, i: usize) -> Option<&Token<'_>> {
        self.tokens.get(i).filter(|t| t.is_word())
    }

    fn lower(&self, i: usize) -> &str {
        self.lower.get(i).map_or("", String::as_str)
    }

    fn adjacent(&self, i: usize) -> bool {
        i > 0 && i < self.tokens.len() && self.tokens[i - 1].end == self.tokens[i].start
    }

    fn is_first_name(&self, word: &str) -> bool {
        self.lists.first.contains(word)
            || (word.contains('-') && word.split('-').all(|part| self.lists.first.contains(part)))
    }

    fn in_name_lists(&self, i: usize) -> bool {
        let w = self.lower(i);
        self.is_first_name(w) || self.lists.surnames.contains(w)
    }

    /// Whether the word before `i` is an article: Dutch puts none before a person's name,
    /// so `Het Anker` and `De Regenboog` are schools, `de Roos` a flower.
    fn after_article(&self, i: usize) -> bool {
        i > 0 && ARTICLES.contains(&self.lower(i - 1))
    }

    /// A name on its own, without anything around it to say so.
    fn is_name(&self, i: usize) -> bool {
        let Some(token) = self.word(i) else { return false };
        let w = self.lower(i);
        // A particle alone is no name (`De` of `De Linde`); the particle rule looks at both.
        if self.allowed[i]
            || !self.in_name_lists(i)
            || self.after_article(i)
            || self.lists.particles.contains(w)
        {
            return false;
        }
        if token.is_capitalised() {
            // Inside a sentence a capital is evidence enough; at its start it is not.
            !token.sentence_start || !self.lists.also_words.contains(w)
        } else if token.is_lowercase() {
            w.chars().count() >= 3 && !self.lists.also_words.contains(w)
        } else {
            false
        }
    }

    /// A word that is a name when something around it says so (a title, a class).
    fn may_be_name(&self, i: usize) -> bool {
        let Some(token) = self.word(i) else { return false };
        if self.lists.particles.contains(self.lower(i)) {
            return false;
        }
        if token.is_capitalised() {
            self.in_name_lists(i) || (!token.sentence_start && !self.allowed[i])
        } else {
            token.is_lowercase() && self.in_name_lists(i) && !self.lists.also_words.contains(self.lower(i))
        }
    }

    /// The end of a particle (`van den`) starting at `i`, if one does.
    fn particle_end(&self, i: usize) -> Option<usize> {
        self.word(i)?;
        let mut joined = String::new();
        let mut end = None;
        for j in i..self.tokens.len().min(i + self.lists.particles.longest) {
            let t = &self.tokens[j];
            // `'t` is split into an apostrophe and `t`; the particle list spells it whole.
            let piece = if t.is_punct('\'') || t.is_punct('’') {
                "'"
            } else if t.is_word() {
                self.lower(j)
            } else {
                break;
            };
            if j > i && !(piece == "t" && joined.ends_with('\'')) {
                joined.push(' ');
            }
            joined.push_str(piece);
            if self.lists.particles.contains(&joined) {
                end = Some(j);
            }
        }
        end
    }

    /// A surname after a particle: `Van den Broeck` from `i` to the returned end.
    fn particle_name_end(&self, i: usize) -> Option<usize> {
        let end = self.particle_end(i)?;
        let k = end + 1;
        let word = self.word(k)?;
        (word.is_capitalised() && !self.allowed[k]).then_some(k)
    }

    /// A surname with a particle typed lowercase (`de smet`), known as a whole.
    fn known_lowercase_surname(&self, j: usize) -> Option<usize> {
        let k = self.particle_end(j)? + 1;
        self.word(k)?;
        let phrase = self.lower[j..=k].join(" ").replace("' t", "'t");
        self.lists.surname_phrases.contains(&phrase).then_some(k)
    }

    /// Whether a first name stands beside `i` with `en`, `of` or a comma between
    /// (`Thibault en Maxime`): names come in lists.
    fn listed_with_a_name(&self, i: usize) -> bool {
        let joins = |j: usize| matches!(self.lower(j), "en" | "of" | ",");
        let first_name = |j: usize| {
            self.word(j).is_some_and(|t| t.is_capitalised())
                && !self.allowed[j]
                && self.is_first_name(self.lower(j))
        };
        let before = i >= 2 && joins(i - 1) && first_name(i - 2) && self.is_name(i - 2);
        let after = joins(i + 1) && first_name(i + 2) && self.is_name(i + 2);
        self.word(i).is_some_and(|t| t.is_capitalised())
            && !self.allowed[i]
            && self.is_first_name(self.lower(i))
            && (before || after)
    }

    /// How far a name that starts or ends at `end` reaches to the right (surnames, initials).
    fn extend(&self, mut end: usize) -> usize {
        let lowercase_start = self.word(end).is_some_and(|t| t.is_lowercase());
        for _ in 0..4 {
            let j = end + 1;
            let Some(token) = self.tokens.get(j) else { break };
            if token.is_initial()
                && self.tokens.get(j + 1).is_some_and(|d| d.is_punct('.'))
                && self.adjacent(j + 1)
            {
                end = j + 1;
                continue;
            }
            if !token.is_word() {
                break;
            }
            if let Some(k) = self.particle_name_end(j) {
                end = k;
                continue;
            }
            let w = self.lower(j);
            let next = if token.is_capitalised() && !token.sentence_start {
                !self.allowed[j]
            } else {
                lowercase_start
                    && token.is_lowercase()
                    && self.lists.surnames.contains(w)
                    && !self.lists.also_words.contains(w)
            };
            if !next {
                break;
            }
            end = j;
        }
        end
    }

    /// The end of a class after a name (`uit 5B`, `(3A)`, `van het tweede leerjaar`).
    fn class_after(&self, j: usize) -> Option<usize> {
        let link = self.tokens.get(j)?;
        let mut k = j + 1;
        if !(link.is_punct('(') || matches!(self.lower(j), "uit" | "van" | "in")) {
            return None;
        }
        if matches!(self.lower(k), "het" | "de" | "klas") {
            k += 1;
        }
        let class = self.tokens.get(k)?;
        let c = self.lower(k);
        let is_code = class.shape == Shape::Number
            && c.chars().count() <= 4
            && (c.starts_with(|ch: char| ch.is_ascii_digit()) || c.starts_with('k'));
        if ORDINALS.contains(&c) && GRADES.contains(&self.lower(k + 1)) {
            return Some(k + 1);
        }
        if is_code {
            let end = if GRADES.contains(&self.lower(k + 1)) {
                k + 1
            } else {
                k
            };
            return Some(if self.tokens.get(end + 1).is_some_and(|t| t.is_punct(')')) {
                end + 1
            } else {
                end
            });
        }
        None
    }

    /// The finding that starts at token `i`, and the token after it.
    fn finding_at(&self, i: usize) -> Option<(Found, usize)> {
        self.word(i)?;
        self.address(i)
            .or_else(|| self.initials(i))
            .or_else(|| self.particle_surname(i))
            .or_else(|| self.possessive(i))
            .or_else(|| self.name(i))
    }

    fn address(&self, i: usize) -> Option<(Found, usize)> {
        let title = self.lower(i);
        let replacements = if TEACHER_TITLES.contains(&title) {
            strings(&["de leerkracht", "een leerkracht"])
        } else if POLITE_TITLES.contains(&title) {
            strings(&["een leerkracht", "een ouder"])
        } else if FAMILY_TITLES.contains(&title) {
            vec![format!("de {title}"), format!("een {title}")]
        } else {
            return None;
        };
        let mut j = i + 1;
        if self.tokens.get(j).is_some_and(|t| t.is_punct('.')) {
            j += 1;
        }
        let start = j;
        // `de mama van Lotte` is Lotte's mother, not a Mrs Van Lotte: the child is named.
        let family = FAMILY_TITLES.contains(&title);
        if family && self.lower(j) == "van" {
            let k = j + 1;
            let child = self.word(k)?;
            if !child.is_capitalised() || self.allowed[k] || self.after_article(k) {
                return None;
            }
            let end = self.extend(k);
            let replacements = strings(&["een leerling"]);
            return Some(((Kind::Name, (k, end), (k, end), replacements), end + 1));
        }
        let end = if let Some(k) = self.particle_name_end(j).filter(|_| !family) {
            self.extend(k)
        } else if let Some(k) = self.known_lowercase_surname(j) {
            k
        } else if self.tokens.get(j).is_some_and(Token::is_initial)
            && self.tokens.get(j + 1).is_some_and(|t| t.is_punct('.'))
        {
            let k = self.extend(j + 1);
            if k == j + 1 {
                return None;
            }
            k
        } else {
            let token = self.word(j)?;
            // A family title before a word is often no address at all (`mama zegt`).
            let evidence = if FAMILY_TITLES.contains(&title) {
                self.is_name(j) || (token.is_capitalised() && self.in_name_lists(j))
            } else {
                (token.is_capitalised() && !self.lists.particles.starts_with(self.lower(j)))
                    || self.may_be_name(j)
            };
            if !evidence {
                return None;
            }
            self.extend(j)
        };
        Some(((Kind::Address, (i, end), (start, end), replacements), end + 1))
    }

    fn initials(&self, i: usize) -> Option<(Found, usize)> {
        let mut j = i;
        let mut letters = String::new();
        while self.tokens.get(j).is_some_and(Token::is_initial)
            && self.tokens.get(j + 1).is_some_and(|t| t.is_punct('.'))
            && self.adjacent(j + 1)
            && (j == i || self.adjacent(j))
        {
            letters.push_str(self.tokens[j].text);
            letters.push('.');
            j += 2;
        }
        if letters.is_empty() {
            return None;
        }
        let last_dot = j - 1;
        let replacements = strings(&["een leerling", "een leerkracht"]);
        let surname = self.particle_name_end(j).or_else(|| {
            self.word(j)
                .filter(|t| t.is_capitalised() && !self.allowed[j])
                .map(|_| j)
        });
        if let Some(end) = surname {
            let end = self.extend(end);
            return Some(((Kind::Initials, (i, end), (i, end), replacements), end + 1));
        }
        let upper = letters.to_uppercase();
        if letters.len() >= 4 && !ABBREVIATIONS.contains(&upper.as_str()) {
            return Some(((Kind::Initials, (i, last_dot), (i, last_dot), replacements), j));
        }
        None
    }

    fn particle_surname(&self, i: usize) -> Option<(Found, usize)> {
        let token = self.word(i)?;
        if !token.is_capitalised() {
            return None;
        }
        let k = self.particle_name_end(i)?;
        let phrase = self.lower[i..=k].join(" ").replace("' t", "'t");
        let w = self.lower(k);
        let known = self.lists.surname_phrases.contains(&phrase);
        // `De` and `Het` are articles as often as particles: `De Regenboog` is a school.
        let article = ARTICLES.contains(&self.lower(i));
        let likely = self.lists.surnames.contains(w)
            && !self.allowed[k]
            && ((!token.sentence_start && !article) || !self.lists.also_words.contains(w));
        if !(known || likely) {
            return None;
        }
        let end = self.extend(k);
        let replacements = strings(&["een leerling", "een leerkracht"]);
        Some(((Kind::Particle, (i, end), (i, end), replacements), end + 1))
    }

    fn possessive(&self, i: usize) -> Option<(Found, usize)> {
        let token = self.word(i)?;
        let text = token.text;
        let (stem, apostrophe) = if let Some(s) = text.strip_suffix("'s").or_else(|| text.strip_suffix("’s"))
        {
            (s, true)
        } else if text.ends_with('s')
            && self
                .tokens
                .get(i + 1)
                .is_some_and(|t| t.is_punct('\'') || t.is_punct('’'))
            && self.adjacent(i + 1)
        {
            (text, true)
        } else {
            (text.strip_suffix('s')?, false)
        };
        let stem = stem.to_lowercase();
        let end = if apostrophe && !text.contains('\'') && !text.contains('’') {
            i + 1
        } else {
            i
        };
        let noun = self.lower(end + 1);
        let belongs = BELONGINGS.contains(&noun);
        let name = self.is_first_name(&stem)
            && !self.allowed[i]
            && (token.is_capitalised() || !self.lists.also_words.contains(&stem))
            && (apostrophe || !self.lists.also_words.contains(self.lower(i)));
        if !name || !(apostrophe || belongs) {
            return None;
        }
        if belongs {
            let replacements = vec![format!("de {noun}"), format!("de {noun} van een leerling")];
            Some(((Kind::Possessive, (i, end + 1), (i, end), replacements), end + 2))
        } else {
            let replacements = strings(&["een leerling", "een leerkracht"]);
            Some(((Kind::Possessive, (i, end), (i, end), replacements), end + 1))
        }
    }

    fn name(&self, i: usize) -> Option<(Found, usize)> {
        // An initial after a word is evidence of a name (`Jonas P.`).
        let initial_after = self.word(i).is_some_and(Token::is_capitalised)
            && self.may_be_name(i)
            && self.tokens.get(i + 1).is_some_and(Token::is_initial)
            && self.tokens.get(i + 2).is_some_and(|t| t.is_punct('.'))
            && self.adjacent(i + 2);
        let named = initial_after || self.is_name(i) || self.listed_with_a_name(i);
        // An ambiguous first word counts with a known surname after it (`Hoop Vermeulen`).
        let with_surname = !named
            && self.may_be_name(i)
            && self.is_first_name(self.lower(i))
            && self.word(i + 1).is_some_and(|t| {
                t.is_capitalised() && !self.allowed[i + 1] && self.lists.surnames.contains(self.lower(i + 1))
            });
        let end = if named || with_surname { self.extend(i) } else { i };
        if let Some(class_end) = self.class_after(end + 1)
            && (named || with_surname || self.may_be_name(i))
        {
            let replacements = strings(&["een leerling"]);
            return Some(((Kind::Class, (i, end), (i, end), replacements), class_end + 1));
        }
        if !(named || with_surname) {
            return None;
        }
        // A first name before a surname found on its own belongs to it (`jonas peeters`),
        // even one that is also a word.
        let start = match i.checked_sub(1) {
            Some(p) if self.joins_as_first_name(p, i) => p,
            _ => i,
        };
        let kind = if initial_after {
            Kind::Initials
        } else if end > start {
            Kind::FullName
        } else {
            Kind::Name
        };
        let replacements = strings(&["een leerling", "een leerkracht"]);
        Some(((kind, (start, end), (start, end), replacements), end + 1))
    }

    /// Whether the word at `p` is a first name written like the name at `i` right after it.
    fn joins_as_first_name(&self, p: usize, i: usize) -> bool {
        let (Some(before), Some(name)) = (self.word(p), self.word(i)) else {
            return false;
        };
        let same_case = (before.is_capitalised() && name.is_capitalised())
            || (before.is_lowercase() && name.is_lowercase());
        same_case && !self.allowed[p] && self.is_first_name(self.lower(p))
    }
}
