//! The domain's fixed vocabularies and input rules (DESIGN.md): kinds, themes, statuses,
//! school years and titles. Every check returns a message that says what to change.

/// Registration kinds.
pub const KINDS: [&str; 2] = ["signal", "consultation"];

/// Registration statuses.
pub const STATUSES: [&str; 2] = ["open", "closed"];

/// Themes a registration may be tagged with.
pub const THEMES: [&str; 16] = [
    "mishandeling/verwaarlozing",
    "sociale vaardigheden",
    "gedrag",
    "ouderbetrokkenheid",
    "leerproblemen",
    "leerplicht/spijbelen",
    "studiekeuze",
    "hygiëne",
    "eetproblemen",
    "tienerzwangerschap",
    "gender",
    "grensoverschrijdend gedrag",
    "hoogbegaafdheid",
    "pesten",
    "welbevinden",
    "anders",
];

/// The longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;

/// Checks a kind.
pub fn kind(value: &str) -> Result<String, String> {
    KINDS
        .contains(&value)
        .then(|| value.to_owned())
        .ok_or_else(|| format!("kind must be one of {}", KINDS.join(", ")))
}

/// Checks a status.
pub fn status(value: &str) -> Result<String, String> {
    STATUSES
        .contains(&value)
        .then(|| value.to_owned())
        .ok_or_else(|| format!("status must be one of {}", STATUSES.join(", ")))
}

/// Checks a theme.
pub fn theme(value: &str) -> Result<String, String> {
    THEMES
        .contains(&value)
        .then(|| value.to_owned())
        .ok_or_else(|| format!("theme must be one of: {}", THEMES.join(", ")))
}

/// Checks and trims a title: 1 to 200 characters, no control characters.
pub fn title(value: &str) -> Result<String, String> {
    let t = value.trim();
    if t.is_empty() {
        return Err("title must not be empty".into());
    }
    if t.chars().count() > MAX_TITLE_CHARS {
        return Err(format!("title must be at most {MAX_TITLE_CHARS} characters"));
    }
    if t.chars().any(char::is_control) {
        return Err("title must be one line of text".into());
    }
    Ok(t.to_owned())
}

/// Checks a school year: `YYYY-YYYY` with consecutive years.
pub fn school_year(value: &str) -> Result<String, String> {
    let bad = || format!("school_year must look like 2026-2027 (got {value:?})");
    let (a, b) = value.split_once('-').ok_or_else(bad)?;
    let (a, b): (u32, u32) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
    if a.to_string().len() != 4 || b != a + 1 {
        return Err(bad());
    }
    Ok(value.to_owned())
}

/// The longest role of a meeting's guest ("leerkracht 3de graad"), in characters.
pub const MAX_ROLE_CHARS: usize = 80;
/// The most guests a meeting lists.
pub const MAX_GUESTS: usize = 30;

/// Checks a calendar day, `YYYY-MM-DD` (RFC 3339's full-date).
pub fn date(value: &str) -> Result<time::Date, String> {
    let bad = || format!("the date must be a day like 2026-10-15 (got {value:?})");
    let mut parts = value.splitn(3, '-');
    let (Some(y), Some(m), Some(d)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 || !value.bytes().all(|b| b.is_ascii_digit() || b == b'-')
    {
        return Err(bad());
    }
    let (y, m, d): (i32, u8, u8) = (
        y.parse().map_err(|_| bad())?,
        m.parse().map_err(|_| bad())?,
        d.parse().map_err(|_| bad())?,
    );
    let month = time::Month::try_from(m).map_err(|_| bad())?;
    time::Date::from_calendar_date(y, month, d).map_err(|_| bad())
}

/// Checks and trims a guest's role: one line, 1 to [`MAX_ROLE_CHARS`] characters.
pub fn role(value: &str) -> Result<String, String> {
    let r = value.trim();
    if r.is_empty() {
        return Err("a guest's role must not be empty (for example \"leerkracht 3de graad\")".into());
    }
    if r.chars().count() > MAX_ROLE_CHARS {
        return Err(format!(
            "a guest's role must be at most {MAX_ROLE_CHARS} characters"
        ));
    }
    if r.chars().any(char::is_control) {
        return Err("a guest's role must be one line of text".into());
    }
    Ok(r.to_owned())
}

/// The school year a date falls in: it runs from 1 September to 31 August.
pub fn school_year_of(year: i32, month: u8) -> String {
    let start = if month >= 9 { year } else { year - 1 };
    format!("{start}-{}", start + 1)
}

/// A day (`YYYY-MM-DD`) as Dutch readers write it: "12 oktober 2026"; anything else as it
/// is.
pub fn day_in_words(day: &str) -> String {
    const MONTHS: [&str; 12] = [
        "januari",
        "februari",
        "maart",
        "april",
        "mei",
        "juni",
        "juli",
        "augustus",
        "september",
        "oktober",
        "november",
        "december",
    ];
    let mut parts = day.splitn(3, '-');
    let (Some(y), Some(m), Some(d)) = (parts.next(), parts.next(), parts.next()) else {
        return day.to_owned();
    };
    match (m.parse::<usize>(), d.parse::<u8>()) {
        (Ok(m @ 1..=12), Ok(d)) => format!("{d} {} {y}", MONTHS[m - 1]),
        _ => day.to_owned(),
    }
}

/// The current school year (by UTC date).
pub fn current_school_year() -> String {
    let now = time::OffsetDateTime::now_utc();
    school_year_of(now.year(), u8::from(now.month()))
}

/// The OpenAPI schemas of these rules, built from the same lists and limits, so that the
/// document allows exactly what the checks accept: API fuzzing (`scripts/fuzz-api`) sends
/// values the document allows and fails when one is refused.
pub mod schema {
    use serde_json::Value;
    use utoipa::openapi::schema::{Object, ObjectBuilder, SchemaType, Type};

    use super::{KINDS, MAX_TITLE_CHARS, STATUSES, THEMES};

    /// Characters no one-line text may hold: every control character (Unicode `Cc`).
    const CONTROL: &str = r"\u0000-\u001F\u007F-\u009F";
    /// Control characters but tab and newline, which a text of several lines may hold.
    const CONTROL_BUT_TAB_NEWLINE: &str = r"\u0000-\u0008\u000B-\u001F\u007F-\u009F";

    /// The first school year the document lists.
    const FIRST_SCHOOL_YEAR: i32 = 2000;
    /// How many school years it lists.
    const SCHOOL_YEARS: i32 = 100;

    fn string(description: &str) -> ObjectBuilder {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(description))
    }

    /// `string`, or `null` as well when `nullable` (an optional field that may be `null`).
    fn of_strings(values: &[&str], nullable: bool, description: &str) -> Object {
        let mut values: Vec<Value> = values.iter().map(|v| Value::from(*v)).collect();
        let mut builder = string(description);
        if nullable {
            values.push(Value::Null);
            builder = builder.schema_type(SchemaType::from_iter([Type::String, Type::Null]));
        }
        builder.enum_values(Some(values)).build()
    }

    /// A text that is not blank and holds none of the characters in `forbidden` (a regex
    /// class body): at least one character that is neither white space nor forbidden.
    fn text(forbidden: &str, max_chars: usize, description: &str) -> Object {
        string(description)
            .min_length(Some(1))
            .max_length(Some(max_chars))
            .pattern(Some(format!("^[^{forbidden}]*[^\\s{forbidden}][^{forbidden}]*$")))
            .build()
    }

    /// A registration kind.
    pub fn kind() -> Object {
        of_strings(&KINDS, false, "`signal` or `consultation`.")
    }

    /// A registration status.
    pub fn status() -> Object {
        of_strings(&STATUSES, false, "`open` or `closed`.")
    }

    /// A theme.
    pub fn theme() -> Object {
        of_strings(&THEMES, false, "A theme.")
    }

    /// A theme, or `""` or `null` for none.
    pub fn theme_or_none() -> Object {
        let themes: Vec<&str> = std::iter::once("").chain(THEMES).collect();
        of_strings(&themes, true, "A theme; empty or `null`: none.")
    }

    /// A school year. The document lists 2000-2001 to 2099-2100; the server takes any two
    /// consecutive four-digit years, which JSON Schema cannot say.
    pub fn school_year() -> Object {
        let years: Vec<String> = (FIRST_SCHOOL_YEAR..FIRST_SCHOOL_YEAR + SCHOOL_YEARS)
            .map(|y| format!("{y}-{}", y + 1))
            .collect();
        let years: Vec<&str> = years.iter().map(String::as_str).collect();
        of_strings(&years, false, "A school year, e.g. `2026-2027`.")
    }

    /// A title: one line, not blank, at most [`MAX_TITLE_CHARS`] characters.
    pub fn title() -> Object {
        one_line(MAX_TITLE_CHARS, "One line of text, not blank.")
    }

    /// A calendar day.
    pub fn date() -> Object {
        string("A day, `YYYY-MM-DD`.")
            .format(Some(utoipa::openapi::schema::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Date,
            )))
            .build()
    }

    /// A guest's role at a meeting: one line, not blank.
    pub fn role() -> Object {
        one_line(
            super::MAX_ROLE_CHARS,
            "A role, never a name (\"leerkracht 3de graad\").",
        )
    }

    /// One line of text, not blank, at most `max_chars` characters.
    pub fn one_line(max_chars: usize, description: &str) -> Object {
        text(CONTROL, max_chars, description)
    }

    /// Text of one or more lines (tabs allowed), not blank, at most `max_chars` characters.
    pub fn lines(max_chars: usize, description: &str) -> Object {
        text(CONTROL_BUT_TAB_NEWLINE, max_chars, description)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_read_in_dutch() {
        assert_eq!(day_in_words("2026-10-05"), "5 oktober 2026");
        assert_eq!(day_in_words("2027-03-31"), "31 maart 2027");
        assert_eq!(day_in_words("2027-13-01"), "2027-13-01");
        assert_eq!(day_in_words("gisteren"), "gisteren");
    }

    #[test]
    fn school_years_run_from_september() {
        assert_eq!(school_year_of(2026, 9), "2026-2027");
        assert_eq!(school_year_of(2027, 8), "2026-2027");
        assert_eq!(school_year_of(2026, 1), "2025-2026");
    }

    #[test]
    fn inputs_are_checked_with_helpful_messages() {
        assert!(school_year("2026-2027").is_ok());
        assert!(school_year("2026-2028").unwrap_err().contains("2026-2027"));
        assert!(school_year("26-27").is_err());
        assert!(school_year("abcd-efgh").is_err());
        assert_eq!(
            title("  Pesten op de speelplaats ").as_deref(),
            Ok("Pesten op de speelplaats")
        );
        assert!(title("   ").is_err());
        assert!(title(&"x".repeat(201)).is_err());
        assert!(title("a\nb").is_err());
        assert!(theme("pesten").is_ok());
        assert!(theme("Pesten").is_err());
        assert!(kind("signal").is_ok() && kind("other").is_err());
        assert!(status("closed").is_ok() && status("gone").is_err());
    }
}
