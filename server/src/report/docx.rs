//! A report as a Word document (DOCX), for who would rather edit an export than print it:
//! the same title, blocks and footer as the PDF (`pdf`), with Word's own heading styles so
//! that its navigation pane and table of contents find the registrations.

use docx_rs::{BreakType, Docx, Footer, Paragraph, Run, RunFonts, SpecialIndentType, Style, StyleType};

use super::pdf::{Block, Report};

/// Word's sizes are in half points.
const BODY: usize = 22;
/// Indents are in twentieths of a point (twips).
const BULLET_INDENT: i32 = 360;

/// `report` as the bytes of a DOCX file.
pub fn render(report: &Report) -> Result<Vec<u8>, String> {
    let mut docx = Docx::new()
        .default_fonts(RunFonts::new().ascii("Calibri").hi_ansi("Calibri").cs("Calibri"))
        .default_size(BODY)
        .add_style(
            Style::new("Title", StyleType::Paragraph)
                .name("Title")
                .size(40)
                .bold(),
        )
        .add_style(
            Style::new("Heading1", StyleType::Paragraph)
                .name("Heading 1")
                .size(30)
                .bold()
                .color("1F3864"),
        )
        .add_style(
            Style::new("Heading2", StyleType::Paragraph)
                .name("Heading 2")
                .size(24)
                .bold(),
        )
        .footer(Footer::new().add_paragraph(
            Paragraph::new().add_run(Run::new().add_text(&report.footer).size(16).color("666666")),
        ))
        .add_paragraph(
            Paragraph::new()
                .style("Title")
                .add_run(Run::new().add_text(&report.title)),
        )
        .add_paragraph(Paragraph::new().add_run(Run::new().add_text(&report.subtitle).color("444444")));
    let mut break_next = false;
    for block in &report.blocks {
        let paragraphs: Vec<Paragraph> = match block {
            Block::Heading(text) => vec![
                Paragraph::new()
                    .style("Heading1")
                    .keep_next(true)
                    .add_run(Run::new().add_text(text)),
            ],
            Block::Subheading(text) => vec![
                Paragraph::new()
                    .style("Heading2")
                    .keep_next(true)
                    .add_run(Run::new().add_text(text)),
            ],
            Block::Paragraph(text) => text
                .split('\n')
                .map(|line| Paragraph::new().add_run(Run::new().add_text(line)))
                .collect(),
            Block::Bullet(text) => vec![bullet("•", text)],
            Block::Check { done, text } => vec![bullet(if *done { "☑" } else { "☐" }, text)],
            Block::Note(text) => {
                vec![Paragraph::new().add_run(Run::new().add_text(text).italic().color("666666"))]
            }
            Block::PageBreak => {
                break_next = true;
                continue;
            }
        };
        for (i, paragraph) in paragraphs.into_iter().enumerate() {
            let paragraph = if break_next && i == 0 {
                paragraph.page_break_before(true)
            } else {
                paragraph
            };
            docx = docx.add_paragraph(paragraph);
        }
        break_next = false;
    }
    if break_next {
        docx = docx.add_paragraph(Paragraph::new().add_run(Run::new().add_break(BreakType::Page)));
    }
    let mut out = std::io::Cursor::new(Vec::new());
    docx.pack(&mut out).map_err(|e| e.to_string())?;
    Ok(out.into_inner())
}

/// A paragraph with a mark before it and a hanging indent.
fn bullet(mark: &str, text: &str) -> Paragraph {
    Paragraph::new()
        .indent(
            Some(BULLET_INDENT),
            Some(SpecialIndentType::Hanging(BULLET_INDENT)),
            None,
            None,
        )
        .add_run(Run::new().add_text(format!("{mark}\t{text}")))
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn a_report_becomes_a_word_file_with_its_words_and_headings() {
        let report = Report {
            title: "Samenwerkingsdossier Basisschool De Linde".into(),
            subtitle: "Schooljaar 2026-2027".into(),
            footer: "Samen · samenwerkingsdossier".into(),
            blocks: vec![
                Block::Heading("Pesten tijdens de middagpauze".into()),
                Block::Subheading("Advies van het CLB".into()),
                Block::Paragraph("Meer toezicht & een plan.\nTweede regel: coördinatie, Zoë.".into()),
                Block::Bullet("Versie na het overleg".into()),
                Block::Check {
                    done: true,
                    text: "Actie <afgerond>".into(),
                },
                Block::Note("Nog niets ingevuld.".into()),
                Block::PageBreak,
                Block::Heading("Tweede registratie".into()),
            ],
        };
        let bytes = render(&report).expect("rendered");
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a ZIP");
        let mut xml = String::new();
        zip.by_name("word/document.xml")
            .expect("the body")
            .read_to_string(&mut xml)
            .expect("UTF-8");
        for words in [
            "Samenwerkingsdossier Basisschool De Linde",
            "Pesten tijdens de middagpauze",
            "Meer toezicht &amp; een plan.",
            "coördinatie, Zoë.",
            "Actie &lt;afgerond&gt;",
            "Heading1",
            "w:pageBreakBefore",
        ] {
            assert!(xml.contains(words), "{words} in {xml}");
        }
        assert!(zip.by_name("word/styles.xml").is_ok());
    }
}
