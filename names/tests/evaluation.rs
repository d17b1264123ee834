//! The detector on the labelled evaluation set (bench/names/eval.jsonl): names of persons
//! found with recall ≥ 0.95 and precision ≥ 0.90 (issue 19). `scripts/bench-names` prints
//! the figures per case beside deduce's; this test keeps a change from losing them.

use serde_json::Value;

/// Byte ranges of `needle` in `text` where it stands as a whole word.
fn occurrences(text: &str, needle: &str) -> Vec<(usize, usize)> {
    let is_word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    text.match_indices(needle)
        .filter(|(at, _)| {
            !is_word(text[..*at].chars().next_back()) && !is_word(text[at + needle.len()..].chars().next())
        })
        .map(|(at, _)| (at, at + needle.len()))
        .collect()
}

fn overlap(a: (usize, usize), b: (usize, usize)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

#[test]
fn the_evaluation_set_is_found_with_the_targeted_precision_and_recall() {
    let set = include_str!("../../bench/names/eval.jsonl");
    let none = samen_names::allowed([]);
    let (mut names, mut found, mut predicted, mut right) = (0, 0, 0, 0);
    for line in set.lines().filter(|l| !l.trim().is_empty()) {
        let item: Value = serde_json::from_str(line).expect("the evaluation set is JSON lines");
        let text = item["text"].as_str().expect("text");
        let gold: Vec<(usize, usize)> = item["names"]
            .as_array()
            .expect("names")
            .iter()
            .flat_map(|n| occurrences(text, n["span"].as_str().expect("span")))
            .collect();
        let spans: Vec<(usize, usize)> = samen_names::find_names(text, &none)
            .iter()
            .map(|f| (f.start, f.end))
            .collect();
        names += gold.len();
        found += gold
            .iter()
            .filter(|g| spans.iter().any(|s| overlap(**g, *s)))
            .count();
        predicted += spans.len();
        right += spans
            .iter()
            .filter(|s| gold.iter().any(|g| overlap(*g, **s)))
            .count();
    }
    let recall = found as f64 / names as f64;
    let precision = right as f64 / predicted as f64;
    assert!(names > 300, "the set holds {names} names");
    assert!(recall >= 0.95, "recall {recall:.3} ({found} of {names})");
    assert!(
        precision >= 0.90,
        "precision {precision:.3} ({right} of {predicted})"
    );
}
