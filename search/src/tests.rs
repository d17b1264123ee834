use super::*;

/// The single query word of `q`.
fn word(q: &str) -> QueryWord {
    let mut words = query_words(q);
    assert_eq!(words.len(), 1, "{q:?} gives {words:?}");
    words.remove(0)
}

/// Whether the query `q` (one word) matches some index term of `text`: the search rule.
fn finds(q: &str, text: &str) -> bool {
    let w = word(q);
    index_terms(text).iter().any(|t| term_matches(t, &w))
}

#[test]
fn stems_of_the_pest_family() {
    assert_eq!(index_terms("pesten"), ["pest"]);
    assert_eq!(index_terms("gepest"), ["gepest", "pest"]);
    assert_eq!(index_terms("gepeste"), ["gepest", "pest"]);
    assert_eq!(index_terms("pestgedrag"), ["pestgedrag"]);
    assert_eq!(index_terms("cyberpesten"), ["cyberpest"]);
    assert_eq!(index_terms("Pesterijen"), ["pesterij"]);
}

#[test]
fn pesten_finds_participles_and_compounds() {
    for text in [
        "gepest",
        "pestgedrag",
        "Pesterijen",
        "cyberpesten",
        "gepeste",
        "Er werd gepest.",
    ] {
        assert!(finds("pesten", text), "pesten should find {text:?}");
    }
    assert!(!finds("pesten", "de pasta was lekker"));
}

#[test]
fn participle_queries_find_the_infinitive() {
    assert!(finds("gepest", "pesten"));
    assert!(finds("gepeste", "pestgedrag"));
    // `gedrag` also yields `drag`: accepted noise, not a rule to keep.
    assert_eq!(index_terms("gedrag"), ["gedrag", "drag"]);
    // Too short to be a participle.
    assert_eq!(index_terms("geld"), ["geld"]);
}

#[test]
fn participle_of_a_stop_word_adds_no_stop_term() {
    assert_eq!(index_terms("geworden"), ["geword"]);
}

#[test]
fn affix_only_for_long_stems() {
    let pest = word("pesten");
    assert!(pest.affix);
    let les = word("les");
    assert!(!les.affix);
    assert!(!finds("les", "lessenrooster"));
    assert!(finds("les", "les"));
    // `lessen` stems to `less` in Snowball; the extra undoubling makes it `les`, the stem of the
    // singular, so plural and singular meet. It is then too short for affix matching.
    assert_eq!(index_terms("lessen"), ["les"]);
    assert!(finds("lessen", "les"));
    assert!(finds("les", "lessen"));
    assert!(!finds("lessen", "lessenrooster"));
    assert!(finds("bussen", "bus"));
    assert!(finds("mannen", "man"));
    assert!(finds("katten", "kat"));
}

#[test]
fn affix_words_have_only_long_alternatives() {
    for q in [
        "gedaan",
        "gepest",
        "gedrag",
        "gemeente",
        "pesterijen",
        "coördinatie",
    ] {
        for w in query_words(q) {
            if w.affix {
                assert!(
                    w.terms.iter().all(|t| t.chars().count() >= MIN_AFFIX_CHARS),
                    "{q}: {w:?}"
                );
            }
        }
    }
    let gedaan = word("gedaan");
    assert!(gedaan.affix);
    assert!(
        !gedaan.terms.iter().any(|t| t.chars().count() < MIN_AFFIX_CHARS),
        "{gedaan:?}"
    );
}

#[test]
fn term_matches_is_equality_or_affix() {
    let w = QueryWord {
        terms: vec!["pest".into()],
        affix: true,
    };
    assert!(term_matches("pest", &w));
    assert!(term_matches("pestgedrag", &w));
    assert!(term_matches("cyberpest", &w));
    assert!(!term_matches("cyberpestgedrag", &w));
    assert!(!term_matches("pes", &w));
    let w = QueryWord {
        terms: vec!["les".into()],
        affix: false,
    };
    assert!(term_matches("les", &w));
    assert!(!term_matches("lesrooster", &w));
    assert!(!term_matches("kles", &w));
}

#[test]
fn accents_and_case_fold() {
    for a in ["Zoë", "zoe", "ZOË", "Zoe\u{308}"] {
        for b in ["Zoë", "zoe", "ZOË", "Zoe\u{308}"] {
            assert!(finds(a, b), "{a} / {b}");
        }
    }
    assert!(finds("coördinatie", "coordinatie"));
    assert!(finds("coordinatie", "Coördinatie"));
    assert!(finds("coordinatie", "coo\u{308}rdinatie"));
    assert!(finds("café", "cafe"));
    assert!(finds("cafe", "CAFÉ"));
    assert_eq!(
        index_terms("Çelik Şahin Yıldız"),
        index_terms("celik sahin yildiz")
    );
    assert_eq!(
        index_terms("Wójcik Łukasz Dvořák"),
        index_terms("wojcik lukasz dvorak")
    );
    assert_eq!(index_terms("İlkay"), index_terms("ilkay"));
    assert_eq!(fold::fold("Straße Æble Œuvre"), "strasse aeble oeuvre");
}

#[test]
fn other_scripts_pass_through_lowercased() {
    assert_eq!(index_terms("Москва"), ["москва"]);
}

#[test]
fn stop_words_produce_no_terms() {
    for w in STOP_WORDS {
        assert!(index_terms(w).is_empty(), "{w}");
        assert!(query_words(w).is_empty(), "{w}");
    }
    assert!(index_terms("De leerling is er niet, maar het zal ook wel.").len() == 1);
    assert!(index_terms("Dat DIT Één").is_empty());
    assert_eq!(query_words("het pesten van de leerling").len(), 2);
}

#[test]
fn words_split_on_apostrophe_and_hyphen() {
    let text = "zorg-coördinator's";
    let words: Vec<&str> = tokens(text).iter().map(|t| &text[t.start..t.end]).collect();
    assert_eq!(words, ["zorg", "coördinator"]);
    assert_eq!(index_terms("Lotte's"), index_terms("Lotte"));
    assert_eq!(index_terms("L'école"), index_terms("ecole"));
}

#[test]
fn one_character_words_and_overlong_words_are_ignored() {
    assert!(index_terms("a b c 1 2 é").is_empty());
    assert_eq!(index_terms("5B"), ["5b"]);
    let long = "x".repeat(MAX_WORD_CHARS + 1);
    assert!(index_terms(&long).is_empty());
    assert!(!index_terms(&"ab".repeat(MAX_WORD_CHARS / 2)).is_empty());
}

#[test]
fn token_offsets_slice_the_original_text() {
    let text =
        "Zoë’s coördinatie — ZOË, café-Ĳsselmeer\u{AD}straat;\tŁódź 5B ide\u{301}e\u{301}n cafe\u{301}\u{AD}";
    let toks = tokens(text);
    let words: Vec<&str> = toks.iter().map(|t| &text[t.start..t.end]).collect();
    assert_eq!(
        words,
        [
            "Zoë",
            "coördinatie",
            "ZOË",
            "café",
            "Ĳsselmeer\u{AD}straat",
            "Łódź",
            "5B",
            "ide\u{301}e\u{301}n",
            "cafe\u{301}"
        ]
    );
    for t in &toks {
        assert!(text.is_char_boundary(t.start) && text.is_char_boundary(t.end));
        assert_eq!(t.terms, index_terms(&text[t.start..t.end]));
    }
    assert_eq!(toks[4].terms, ["ijsselmeerstrat"]);
    assert_eq!(toks[8].terms, index_terms("café"));
}

#[test]
fn tokens_leave_out_stop_words_but_keep_positions() {
    let text = "de pesterijen in de klas";
    let toks = tokens(text);
    assert_eq!(toks.len(), 2);
    assert_eq!(&text[toks[0].start..toks[0].end], "pesterijen");
    assert_eq!(&text[toks[1].start..toks[1].end], "klas");
}

#[test]
fn index_terms_are_distinct_in_first_order() {
    assert_eq!(
        index_terms("klas pesten Klassen gepest"),
        ["klas", "pest", "gepest"]
    );
}

#[test]
fn query_words_are_deduplicated() {
    assert_eq!(query_words("pesten Pesten pest").len(), 1);
    assert!(query_words("").is_empty());
    assert!(query_words(" - ' , ").is_empty());
}

#[test]
fn reversed_is_charwise() {
    assert_eq!(reversed("pest"), "tsep");
    assert_eq!(reversed("zoë"), "ëoz");
    assert_eq!(reversed(""), "");
    // Suffix search becomes prefix search on the reversed column.
    assert!(reversed("cyberpest").starts_with(&reversed("pest")));
}

#[test]
fn upper_bound_is_the_next_prefix() {
    assert_eq!(upper_bound("pest").as_deref(), Some("pesu"));
    assert_eq!(upper_bound("").as_deref(), None);
    assert_eq!(upper_bound("caÿ").as_deref(), Some("ca\u{100}"));
    assert_eq!(upper_bound("z\u{7F}").as_deref(), Some("z\u{80}"));
    assert_eq!(upper_bound("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
    assert_eq!(upper_bound("ab\u{10FFFF}").as_deref(), Some("ac"));
    assert_eq!(upper_bound("a\u{10FFFF}\u{10FFFF}").as_deref(), Some("b"));
    assert_eq!(upper_bound("\u{10FFFF}").as_deref(), None);
    assert_eq!(upper_bound("\u{10FFFF}\u{10FFFF}").as_deref(), None);
}

#[test]
fn upper_bound_bounds_every_extension_in_byte_order() {
    let tails = [
        "",
        "a",
        "zzzz",
        "ÿ",
        "\u{7FF}",
        "\u{FFFF}",
        "\u{10FFFF}\u{10FFFF}\u{10FFFF}",
    ];
    for prefix in [
        "pest",
        "caÿ",
        "x\u{7F}",
        "a\u{D7FF}",
        "ab\u{10FFFF}",
        "\u{FFFF}",
        "\u{10FFFE}",
    ] {
        let ub = upper_bound(prefix).unwrap();
        assert!(ub.as_bytes() > prefix.as_bytes());
        assert!(!ub.starts_with(prefix), "{prefix:?}");
        for tail in tails {
            let s = format!("{prefix}{tail}");
            assert!(s.as_bytes() < ub.as_bytes(), "{s:?} vs {ub:?}");
        }
        // Nothing smaller would do: the bound with its last char lowered starts with the prefix
        // or sorts below an extension of it.
        let mut lower: Vec<char> = ub.chars().collect();
        let last = lower.pop().unwrap();
        let below = if last == '\u{E000}' {
            '\u{D7FF}'
        } else {
            char::from_u32(last as u32 - 1).unwrap()
        };
        lower.push(below);
        let lower: String = lower.into_iter().collect();
        assert!(
            lower.starts_with(prefix) || prefix.starts_with(&lower),
            "{prefix:?} {lower:?}"
        );
    }
}

#[test]
fn analysing_a_megabyte_is_fast() {
    let sample = "Het zorgteam bespreekt de pesterijen in 5B: Zoë werd gepest tijdens de speeltijd, \
                  het cyberpesten gaat door op sociale media en de coördinator plant een gesprek \
                  met de ouders over het pestgedrag en de begeleiding op school. ";
    let text = sample.repeat(1_000_000 / sample.len() + 1);
    let start = std::time::Instant::now();
    let toks = tokens(&text);
    let terms = index_terms(&text);
    let elapsed = start.elapsed();
    println!(
        "analysed {} bytes: {} tokens, {} distinct terms, tokens + index_terms in {:?}",
        text.len(),
        toks.len(),
        terms.len(),
        elapsed
    );
    assert!(!toks.is_empty());
}
