//! The text analyzer for full-text search over Dutch dossier text (issue 18).
//!
//! The server keeps index terms in SQL tables (SQLite and PostgreSQL, compared byte-wise as in
//! the "C" collation) and matches query terms against them by equality or by prefix and suffix
//! range scans. This crate decides what the terms are, so that indexing and querying agree:
//! words are folded (lowercase, accents off) and stemmed with the Snowball Dutch stemmer, with
//! two additions Dutch needs: past participles in `ge-` also get the stem without it, and query
//! words long enough match the heads and tails of compounds (`pest` in `pestgedrag`).
//! Pure: no IO.

mod fold;

use std::collections::HashSet;
use std::sync::LazyLock;

use rust_stemmers::{Algorithm, Stemmer};

/// One word of a text: its byte range in the original text and its index terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// Byte offset of the word's first character in the original text.
    pub start: usize,
    /// Byte offset just past the word's last character in the original text.
    pub end: usize,
    /// The index terms of the word: its stem first, then any alternative (`gepest` → `gepest`,
    /// `pest`). Never empty: words without terms are not tokens.
    pub terms: Vec<String>,
}

/// One word of a query: the terms any of which may match (its alternatives), and whether
/// it may also match as the head or tail of a compound (long enough).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryWord {
    /// The alternatives: an index term equal to any of them matches. Never empty.
    pub terms: Vec<String>,
    /// Whether an index term that starts or ends with one of `terms` matches too. Only set when
    /// the stem has at least [`MIN_AFFIX_CHARS`] characters, and then every term has that many.
    pub affix: bool,
}

/// The fewest characters a query stem needs to match compound heads and tails: `pest` finds
/// `pestgedrag` and `cyberpest`, but `les` must not find `lessenrooster` (nor `kles`).
pub const MIN_AFFIX_CHARS: usize = 4;

/// The most characters a word may have to be indexed. Longer runs are no Dutch words (hashes,
/// pasted codes) and would only bloat the SQL indexes; PostgreSQL also limits b-tree entries.
/// Dutch compounds stay well below (`arbeidsongeschiktheidsverzekering` has 33).
pub const MAX_WORD_CHARS: usize = 64;

/// The fewest characters a word starting with `ge` needs to be taken for a past participle
/// (`gepest`); shorter ones (`geen`, `gek`, `geld`) are not.
const MIN_PARTICIPLE_CHARS: usize = 6;

/// The most common Dutch function words: they occur in nearly every text, so indexing them
/// would cost space without ever narrowing a search. Folded, as words are compared folded.
const STOP_WORDS: &[&str] = &[
    "de", "het", "een", "en", "van", "in", "op", "te", "dat", "die", "is", "met", "voor", "aan", "er",
    "niet", "zijn", "om", "als", "bij", "ook", "of", "naar", "maar", "dan", "door", "uit", "tot", "over",
    "nog", "wel", "al", "ze", "we", "hij", "zij", "ik", "je", "u", "wat", "wordt", "worden", "werd", "heeft",
    "hebben", "was", "kan", "zal", "moet", "deze", "dit", "zo", "geen", "meer", "hun", "haar", "hem", "ons",
    "onze", "mijn", "uw",
];

/// The Snowball stemmer, made once: creating it is cheap, but there is no need to repeat it.
static STEMMER: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::Dutch));

/// The words of `text` with their terms (for indexing and for highlighting snippets).
///
/// Words are maximal runs of letters and digits; anything else (space, punctuation, apostrophe,
/// hyphen) separates them, so `zorg-coördinator` gives `zorg` and `coördinator`. Words of one
/// character, stop words and overlong words have no terms and are left out.
pub fn tokens(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    for (start, end) in words(text) {
        if let Some(terms) = analyse(&text[start..end]) {
            out.push(Token { start, end, terms });
        }
    }
    out
}

/// The distinct index terms of `text` (what gets stored for it).
///
/// In order of first occurrence, so the result is deterministic.
pub fn index_terms(text: &str) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (start, end) in words(text) {
        for term in analyse(&text[start..end]).into_iter().flatten() {
            if seen.insert(term.clone()) {
                out.push(term);
            }
        }
    }
    out
}

/// The words of a query, analysed as text is for indexing, so that `Pesten` finds `gepest`.
///
/// Stop words and one-character words are skipped; a word given twice is kept once. A word whose
/// stem has at least [`MIN_AFFIX_CHARS`] characters may match compounds (`affix`); an alternative
/// shorter than that is then dropped (`gedaan` would otherwise scan for every term ending in `dan`).
pub fn query_words(query: &str) -> Vec<QueryWord> {
    let mut out: Vec<QueryWord> = Vec::new();
    for (start, end) in words(query) {
        let Some(mut terms) = analyse(&query[start..end]) else {
            continue;
        };
        let affix = chars(&terms[0]) >= MIN_AFFIX_CHARS;
        if affix {
            terms.retain(|t| chars(t) >= MIN_AFFIX_CHARS);
        }
        let word = QueryWord { terms, affix };
        if !out.contains(&word) {
            out.push(word);
        }
    }
    out
}

/// Whether an index term matches a query word: equal to one of its terms, or, when `affix`,
/// starting or ending with one (the rule the SQL applies with range scans).
pub fn term_matches(term: &str, word: &QueryWord) -> bool {
    word.terms
        .iter()
        .any(|t| term == t || (word.affix && (term.starts_with(t.as_str()) || term.ends_with(t.as_str()))))
}

/// A term reversed (char-wise), for suffix range scans on a reversed column.
///
/// Char-wise, not byte-wise, so the result is still UTF-8; `term` ends with `s` exactly when
/// `reversed(term)` starts with `reversed(s)`, which turns a suffix search into a prefix one.
pub fn reversed(term: &str) -> String {
    term.chars().rev().collect()
}

/// The smallest string greater than every string starting with `prefix` in byte order
/// (for `term >= prefix AND term < upper_bound(prefix)`); None if there is none.
///
/// Byte order of UTF-8 is code point order, so this is `prefix` with its last character replaced
/// by the next one (skipping the surrogates, which no string holds). A last character U+10FFFF has
/// no next one: it is dropped and the one before it is raised instead. When every character is
/// U+10FFFF (or `prefix` is empty) no string is greater than all: None, scan to the end.
pub fn upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match last {
            '\u{D7FF}' => Some('\u{E000}'),
            c => char::from_u32(c as u32 + 1),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// The byte ranges of the words of `text`.
///
/// A word is a maximal run of alphanumerics. Combining marks (a decomposed `ë` is `e` + U+0308)
/// and soft hyphens, which are invisible, stay inside a word rather than split it; folding drops
/// them later.
fn words(text: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut iter = text.char_indices().peekable();
    std::iter::from_fn(move || {
        // Skip to the first alphanumeric: a word never starts with a mark.
        let start = loop {
            let (i, c) = iter.next()?;
            if c.is_alphanumeric() {
                break i;
            }
        };
        let mut end = text.len();
        while let Some(&(i, c)) = iter.peek() {
            if c.is_alphanumeric() || fold::is_ignorable(c) {
                iter.next();
            } else {
                end = i;
                break;
            }
        }
        // A trailing soft hyphen is no part of the word a highlight should cover; a trailing
        // combining mark is (it is the accent of the last letter).
        let word = text[start..end].trim_end_matches('\u{AD}');
        Some((start, start + word.len()))
    })
}

/// The terms of one word: its stem, then the stem without `ge` for a likely past participle.
/// None for a word with no terms: one character, a stop word or overlong.
fn analyse(word: &str) -> Option<Vec<String>> {
    let n = word.chars().count();
    if n > MAX_WORD_CHARS {
        return None;
    }
    let folded = fold::fold(word);
    if chars(&folded) < 2 || is_stop_word(&folded) {
        return None;
    }
    let mut terms = vec![stem(&folded)];
    // `gepest`, `gepeste` are forms of `pesten`, but Snowball leaves the `ge` on. The stripped
    // word is stemmed too, unless it is a stop word (`geworden` must not index `word`).
    if let Some(rest) = folded.strip_prefix("ge")
        && chars(&folded) >= MIN_PARTICIPLE_CHARS
        && !is_stop_word(rest)
    {
        let alt = stem(rest);
        if !terms.contains(&alt) {
            terms.push(alt);
        }
    }
    Some(terms)
}

/// Snowball Dutch, then undoubling a final double consonant: Snowball undoubles only `kk`, `dd`
/// and `tt`, so `lessen` would stay `less` and miss `les` (`bussen`/`bus`, `mannen`/`man`). Dutch
/// spelling never ends a word in a double consonant, so the undoubled stem is the singular's.
fn stem(folded: &str) -> String {
    let mut s = STEMMER.stem(folded).into_owned();
    let b = s.as_bytes();
    if b.len() >= 3 {
        let (x, y) = (b[b.len() - 2], b[b.len() - 1]);
        if x == y && x.is_ascii_alphabetic() && !b"aeiouy".contains(&x) {
            s.pop();
        }
    }
    s
}

fn is_stop_word(folded: &str) -> bool {
    STOP_WORDS.contains(&folded)
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

#[cfg(test)]
mod tests;
