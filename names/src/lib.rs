//! Finds suspected names of pupils and teachers in Dutch dossier text.
//!
//! The dossier must hold no names ("in het samenwerkingsdossier mogen geen namen van
//! leerlingen of leerkrachten staan"). Name lists say which words can be names; context
//! rules say when a word that can be one is one (`juf Roos`) and when it is not (`een roos`).
//! Pure: no IO, the lists are compiled in.

mod detect;
mod lists;
mod tokens;

pub use lists::Phrases;

/// What made the detector take something for a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A first name or surname on its own.
    Name,
    /// A first name with a surname (`Jonas Peeters`).
    FullName,
    /// A surname with a particle (`Van den Broeck`).
    Particle,
    /// Initials, with or without a surname (`J. Peeters`, `Jonas P.`, `L.V.`).
    Initials,
    /// A name after a form of address (`juf An`, `mevrouw Claes`).
    Address,
    /// A name with a class (`Lotte uit 5B`).
    Class,
    /// A name in the possessive (`Lottes ouders`).
    Possessive,
}

impl Kind {
    /// The kind's key in the API and the web app.
    pub fn key(self) -> &'static str {
        match self {
            Kind::Name => "name",
            Kind::FullName => "full_name",
            Kind::Particle => "particle",
            Kind::Initials => "initials",
            Kind::Address => "address",
            Kind::Class => "class",
            Kind::Possessive => "possessive",
        }
    }
}

/// One suspected name in a text; offsets are bytes into that text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Where the name starts.
    pub start: usize,
    /// Where the name ends (exclusive).
    pub end: usize,
    /// Where the words a replacement takes the place of start: the title of `juf An`,
    /// the name and its noun in `Lottes ouders`.
    pub phrase_start: usize,
    /// Where those words end (exclusive).
    pub phrase_end: usize,
    /// Why it was taken for a name.
    pub kind: Kind,
    /// Words that could stand in the phrase's place, most likely first.
    pub replacements: Vec<String>,
}

/// Phrases a dossier allows besides the shipped lists (its schools' and partners' names).
pub fn allowed<'a>(phrases: impl IntoIterator<Item = &'a str>) -> Phrases {
    let mut set = Phrases::default();
    phrases.into_iter().for_each(|p| set.insert(p));
    set
}

/// The suspected names in `text`, in order, none overlapping.
pub fn find_names(text: &str, allowed: &Phrases) -> Vec<Finding> {
    detect::detect(text, allowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names found in `text`, as written.
    fn names(text: &str) -> Vec<&str> {
        find_names(text, &allowed([]))
            .into_iter()
            .map(|f| &text[f.start..f.end])
            .collect()
    }

    fn kinds(text: &str) -> Vec<Kind> {
        find_names(text, &allowed([]))
            .into_iter()
            .map(|f| f.kind)
            .collect()
    }

    #[test]
    fn first_names_and_surnames() {
        assert_eq!(names("We merken dat Lotte vaak alleen staat."), ["Lotte"]);
        assert_eq!(
            names("Het gesprek met Jonas Peeters liep goed."),
            ["Jonas Peeters"]
        );
        assert_eq!(
            kinds("Het gesprek met Jonas Peeters liep goed."),
            [Kind::FullName]
        );
        assert_eq!(
            names("De ouders van Emma Claes vragen een gesprek."),
            ["Emma Claes"]
        );
    }

    #[test]
    fn names_of_other_origins() {
        assert_eq!(
            names("Sinds januari komt Mohamed niet meer naar school."),
            ["Mohamed"]
        );
        assert_eq!(
            names("We spraken met Elif Yilmaz over de opvolging."),
            ["Elif Yilmaz"]
        );
    }

    #[test]
    fn surnames_with_particles() {
        assert_eq!(
            names("Het verslag werd opgesteld door Van den Broeck."),
            ["Van den Broeck"]
        );
        assert_eq!(names("De Smet volgt dit verder op."), ["De Smet"]);
        assert_eq!(
            names("We bellen Ruben van der Meulen morgen."),
            ["Ruben van der Meulen"]
        );
        assert_eq!(
            kinds("Het verslag werd opgesteld door Van den Broeck."),
            [Kind::Particle]
        );
    }

    #[test]
    fn initials() {
        assert_eq!(names("Afspraak met J. Peeters om tien uur."), ["J. Peeters"]);
        assert_eq!(names("Jonas P. heeft een nieuw plan."), ["Jonas P."]);
        assert_eq!(names("Volgens J.P. Maes is dat nodig."), ["J.P. Maes"]);
        assert_eq!(kinds("Afspraak met J. Peeters om tien uur."), [Kind::Initials]);
    }

    #[test]
    fn forms_of_address() {
        assert_eq!(names("We spraken met meester Tom over de klas."), ["Tom"]);
        assert_eq!(names("juf An merkt onrust op."), ["An"]);
        assert_eq!(names("Overleg met mevrouw Claes gepland."), ["Claes"]);
        assert_eq!(names("Gesprek met de mama van Lotte uit 5B."), ["Lotte"]);
        // A name nobody's list has, named by whose mother she is.
        assert_eq!(names("Afspraak met de papa van Zyrion."), ["Zyrion"]);
        assert_eq!(
            names("De mama van een leerling uit 3A belde."),
            Vec::<&str>::new()
        );
        assert_eq!(names("Meneer Van Damme belde."), ["Van Damme"]);
        let text = "Overleg met juf Roos over de speelplaats.";
        let found = find_names(text, &allowed([]));
        assert_eq!(found.len(), 1);
        assert_eq!(&text[found[0].phrase_start..found[0].phrase_end], "juf Roos");
        assert_eq!(found[0].replacements[0], "de leerkracht");
    }

    #[test]
    fn names_with_a_class() {
        assert_eq!(names("Lotte uit 5B zit vaak alleen."), ["Lotte"]);
        assert_eq!(kinds("Lotte uit 5B zit vaak alleen."), [Kind::Class]);
        assert_eq!(names("Er is een conflict met Sem (3A)."), ["Sem"]);
        assert_eq!(names("Noor van het tweede leerjaar huilt vaak."), ["Noor"]);
    }

    #[test]
    fn possessives() {
        let text = "Lottes ouders komen dinsdag langs.";
        let found = find_names(text, &allowed([]));
        assert_eq!(names(text), ["Lottes"]);
        assert_eq!(found[0].kind, Kind::Possessive);
        assert_eq!(&text[found[0].phrase_start..found[0].phrase_end], "Lottes ouders");
        assert_eq!(found[0].replacements[0], "de ouders");
        assert_eq!(names("Lotte's mama belde vanmorgen."), ["Lotte's"]);
        assert_eq!(names("Jonas' vader was boos."), ["Jonas'"]);
    }

    #[test]
    fn lowercase_names_and_sentence_starts() {
        assert_eq!(names("lotte zit alleen op de speelplaats"), ["lotte"]);
        assert_eq!(names("gesprek gehad met jonas peeters"), ["jonas peeters"]);
        assert_eq!(names("Lotte heeft moeite met lezen."), ["Lotte"]);
    }

    #[test]
    fn what_belongs_in_a_dossier_is_no_name() {
        for text in [
            "Pesten blijft een zorg in de derde graad.",
            "De zorgcoördinator en de CLB-medewerker bespreken het welbevinden.",
            "Een leerkracht van het vijfde leerjaar vraagt advies over Frans.",
            "Mei is een drukke maand met veel toetsen.",
            "De school in Gent werkt met Kiva en Rots en Water.",
            "We hebben goede hoop dat het beter gaat.",
            "Roos en hoop: de leerlingen plantten een roos op de speelplaats.",
            "Op maandag overleggen zorgleerkracht en directeur.",
            "De ouders van een leerling uit het vijfde leerjaar vragen een gesprek.",
            "Leerlingen uit 5B melden meer conflicten op de speelplaats.",
            "Het CLB, het LSC en de school plannen een MDO in maart.",
            "De leerling gebruikt Kurzweil en Sprint bij toetsen.",
            "mama zegt dat het thuis beter gaat.",
            "We zien dat de meneer van het CLB morgen langskomt.",
            "Wil de school dit opvolgen? Dan plannen we een overleg.",
        ] {
            assert_eq!(names(text), Vec::<&str>::new(), "{text}");
        }
    }

    #[test]
    fn no_name_after_an_article_or_in_a_saying() {
        for text in [
            "VBS Het Anker en De Regenboog doen mee; we nemen De Lijn.",
            "Dat weet Jan en alleman.",
            "De Roos van de school is verwelkt.",
        ] {
            assert_eq!(names(text), Vec::<&str>::new(), "{text}");
        }
    }

    #[test]
    fn names_listed_together_and_typed_lowercase_after_a_title() {
        assert_eq!(names("Thibault en Maxime kwamen samen."), ["Thibault", "Maxime"]);
        assert_eq!(names("kan iemand mevrouw de smet verwittigen?"), ["de smet"]);
    }

    #[test]
    fn methods_written_with_an_ampersand_or_a_suffix_are_allowed() {
        assert_eq!(
            names("We starten met Rots & Water in de klas."),
            Vec::<&str>::new()
        );
        assert_eq!(
            names("Twee Rots en Water-oefeningen per week."),
            Vec::<&str>::new()
        );
    }

    #[test]
    fn acronyms_are_allowed_as_written_only() {
        assert_eq!(names("Het CLB registreert in LARS."), Vec::<&str>::new());
        assert_eq!(names("We spraken met Lars over de speeltijd."), ["Lars"]);
    }

    #[test]
    fn a_dossiers_own_names_are_allowed() {
        let school = allowed(["Basisschool De Linde"]);
        let text = "Juf Roos van Basisschool De Linde belt.";
        let found = find_names(text, &school);
        assert_eq!(found.len(), 1);
        assert_eq!(&text[found[0].start..found[0].end], "Roos");
        let text = "Basisschool De Linde en Het Anker overleggen.";
        assert_eq!(
            find_names(text, &allowed(["Basisschool De Linde", "Het Anker"])),
            []
        );
    }

    #[test]
    fn offsets_are_on_character_boundaries() {
        let text = "Zoë uit 2A en Chloé’s mama, dan juf Anaïs.";
        for f in find_names(text, &allowed([])) {
            assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
            assert!(f.phrase_start <= f.start && f.end <= f.phrase_end);
        }
    }
}
