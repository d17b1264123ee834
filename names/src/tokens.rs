//! Splits text into words, numbers and punctuation, with byte offsets and sentence starts.

/// What a token is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Letters, with inner hyphens and apostrophes (`Sint-Niklaas`, `Lotte's`).
    Word,
    /// Letters and digits mixed, or digits (`5B`, `K3`, `2de`).
    Number,
    /// One character of anything else.
    Punct(char),
}

/// One token of the text.
#[derive(Debug, Clone, Copy)]
pub struct Token<'a> {
    pub text: &'a str,
    pub start: usize,
    pub end: usize,
    pub shape: Shape,
    /// The token opens a sentence or a line, so a capital says nothing about it.
    pub sentence_start: bool,
}

impl Token<'_> {
    pub fn is_word(&self) -> bool {
        self.shape == Shape::Word
    }

    pub fn is_punct(&self, c: char) -> bool {
        self.shape == Shape::Punct(c)
    }

    /// `Lotte`, `Van`, `Anne-Sophie`: a capital followed by at least one lowercase letter.
    pub fn is_capitalised(&self) -> bool {
        let mut chars = self.text.chars();
        let first_upper = chars.next().is_some_and(char::is_uppercase);
        first_upper && self.text.chars().any(char::is_lowercase)
    }

    /// Every letter lowercase.
    pub fn is_lowercase(&self) -> bool {
        !self.text.chars().any(char::is_uppercase)
    }

    /// A single capital letter, as in the initial of `J. Peeters`.
    pub fn is_initial(&self) -> bool {
        let mut chars = self.text.chars();
        chars.next().is_some_and(char::is_uppercase) && chars.next().is_none()
    }
}

fn is_apostrophe(c: char) -> bool {
    c == '\'' || c == '’'
}

/// The tokens of `text`; whitespace separates them and is dropped.
pub fn tokenize(text: &str) -> Vec<Token<'_>> {
    let mut tokens: Vec<Token<'_>> = Vec::new();
    let mut chars = text.char_indices().peekable();
    let mut line_start = true;
    while let Some((start, c)) = chars.next() {
        if c.is_whitespace() {
            if c == '\n' || c == '\u{2028}' {
                line_start = true;
            }
            continue;
        }
        let mut end = start + c.len_utf8();
        let shape = if c.is_alphanumeric() {
            let mut digits = c.is_numeric();
            while let Some(&(i, next)) = chars.peek() {
                let joins = if next.is_alphanumeric() {
                    true
                } else if next == '-' || is_apostrophe(next) {
                    // A hyphen or apostrophe joins only when a letter follows it.
                    text[i + next.len_utf8()..]
                        .chars()
                        .next()
                        .is_some_and(char::is_alphabetic)
                } else {
                    false
                };
                if !joins {
                    break;
                }
                digits |= next.is_numeric();
                end = i + next.len_utf8();
                chars.next();
            }
            if digits { Shape::Number } else { Shape::Word }
        } else {
            Shape::Punct(c)
        };
        let sentence_start = line_start
            || match tokens.last() {
                None => true,
                Some(prev) => match prev.shape {
                    Shape::Punct(p) => {
                        matches!(p, '.' | '!' | '?' | ':' | ';' | '•' | '"' | '“' | '(' | '-')
                            && !prev_is_initial(&tokens)
                    }
                    _ => false,
                },
            };
        tokens.push(Token {
            text: &text[start..end],
            start,
            end,
            shape,
            sentence_start,
        });
        line_start = false;
    }
    tokens
}

/// Whether the last two tokens are an initial and its full stop (`J.`), which ends no sentence.
fn prev_is_initial(tokens: &[Token<'_>]) -> bool {
    match tokens {
        [.., letter, dot] => dot.is_punct('.') && letter.is_initial() && letter.end == dot.start,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(text: &str) -> Vec<&str> {
        tokenize(text).iter().map(|t| t.text).collect()
    }

    #[test]
    fn words_keep_inner_hyphens_and_apostrophes() {
        assert_eq!(
            texts("Anne-Sophie en Lotte's mama uit Sint-Niklaas, klas 5B."),
            [
                "Anne-Sophie",
                "en",
                "Lotte's",
                "mama",
                "uit",
                "Sint-Niklaas",
                ",",
                "klas",
                "5B",
                "."
            ]
        );
        assert_eq!(texts("Jonas' vader - nu"), ["Jonas", "'", "vader", "-", "nu"]);
    }

    #[test]
    fn sentence_starts_after_full_stops_and_lines_not_after_initials() {
        let tokens = tokenize("Dat is zo. Lotte kwam.\nRoos bloeit; J. Peeters");
        let starts: Vec<&str> = tokens
            .iter()
            .filter(|t| t.sentence_start)
            .map(|t| t.text)
            .collect();
        assert_eq!(starts, ["Dat", "Lotte", "Roos", "J"]);
    }

    #[test]
    fn offsets_are_bytes_of_the_text() {
        let text = "Zoë én Chloé";
        for t in tokenize(text) {
            assert_eq!(&text[t.start..t.end], t.text);
        }
    }
}
