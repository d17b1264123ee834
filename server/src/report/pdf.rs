//! Renders a meeting report to a print-ready A4 PDF on the server.
//!
//! Why server-side: a browser's "print to PDF" differs per device and loses the
//! footer and page numbers a school file needs; here every PDF looks the same.
//!
//! Why `pdf-writer` + `subsetter` + `ttf-parser` (all three from the typst
//! project or harfbuzz, well kept): together they pull in 8 small crates and
//! build from scratch in about 3 s (debug) / 7 s (release) on two cores.
//! `krilla` wraps the same two typst crates but adds skrifa, write-fonts,
//! flate2, kurbo and more (58 crates, ~24 s / ~58 s); `printpdf` 0.12 drags in
//! lopdf, allsorts, crypto and serde (102 crates, ~44 s) even without default
//! features. A report needs no shaping (Dutch is plain Latin with precomposed
//! accents; we also skip kerning), so the lowest layer is enough: we measure glyph advances with
//! `ttf-parser`, subset the fonts with `subsetter`, and write a CID font with a
//! `/ToUnicode` map ourselves so that copying and `pdftotext` give back the
//! exact text (é, ’, “, – …).
//!
//! Layout is deliberately simple: a top-down cursor, greedy line breaking at
//! spaces by measured advances (characters of an over-long word are broken
//! across lines), page breaks between lines, blocks of up to three lines never
//! split, and headings kept with what follows them. Pages are laid out first and written after, because
//! the footer needs the total page count ("pagina N van M").
//!
//! Streams are left uncompressed to keep the dependency list at three crates:
//! a typical two-page report is about 80 KB (two font subsets of ~20 KB each,
//! ~17 KB of text operators per page); deflating the streams would bring it
//! to about 25 KB if that ever matters.

use std::collections::BTreeMap;

use pdf_writer::types::{CidFontType, FontFlags, LineCapStyle, LineJoinStyle, SystemInfo, UnicodeCmap};
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

const REGULAR_TTF: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const BOLD_TTF: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

/// A report ready for print: a title, a line under it, and blocks in reading order.
pub struct Report {
    /// Large bold title on the first page; also the PDF's document title.
    pub title: String,
    /// Line under the title (e.g. date and participants).
    pub subtitle: String,
    /// Left part of the footer on every page.
    pub footer: String,
    /// Content blocks in reading order.
    pub blocks: Vec<Block>,
}

/// One block of a report.
pub enum Block {
    /// A section heading (bold, larger); never left alone at a page bottom.
    Heading(String),
    /// A bold line at body size.
    Subheading(String),
    /// Wrapped body text; `'\n'` inside starts a new line.
    Paragraph(String),
    /// A bulleted item, wrapped with a hanging indent.
    Bullet(String),
    /// An action item: a drawn checkbox (ticked when done) and wrapped text.
    Check {
        /// Whether the box is ticked.
        done: bool,
        /// The action text.
        text: String,
    },
    /// Small grey text (e.g. "Nog niets ingevuld.").
    Note(String),
    /// The next block starts on a new page (nothing happens at the top of a page).
    PageBreak,
}

/// Why a report could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// An embedded font file is not a readable OpenType font.
    #[error("embedded font {0} could not be parsed")]
    FontParse(&'static str),
    /// Reducing an embedded font to the used glyphs failed.
    #[error("embedded font {name} could not be subset: {source}")]
    Subset {
        /// Which font failed.
        name: &'static str,
        /// The subsetter's reason.
        source: subsetter::Error,
    },
}

/// Renders `report` to the bytes of a PDF file.
pub fn render(report: &Report) -> Result<Vec<u8>, PdfError> {
    let mut fonts = [
        Font::new(REGULAR_TTF, "DejaVuSans", b"SAMENA+DejaVuSans")?,
        Font::new(BOLD_TTF, "DejaVuSans-Bold", b"SAMENB+DejaVuSans-Bold")?,
    ];
    let pages = layout(report, &fonts);
    write_pdf(report, &pages, &mut fonts)
}

// ---------------------------------------------------------------------------
// Geometry and styles (PDF points, 1/72 inch).

const MM: f32 = 72.0 / 25.4;
const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const MARGIN_X: f32 = 20.0 * MM;
const MARGIN_TOP: f32 = 20.0 * MM;
/// Lowest point (from the page bottom) body text may reach; the footer lives below.
const BODY_BOTTOM: f32 = 22.0 * MM;
const FOOTER_RULE_Y: f32 = 16.5 * MM;
const FOOTER_BASELINE: f32 = 12.0 * MM;
const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN_X;
/// DejaVu's cap height in em; used to centre capitals in a line box so that
/// checkboxes and bullets line up with the text.
const CAP_HEIGHT: f32 = 0.729;

/// Blocks of at most this many lines are never split over two pages.
const KEEP_WHOLE_LINES: usize = 3;
const BULLET_X: f32 = 4.0;
const BULLET_INDENT: f32 = 14.0;
const CHECK_BOX: f32 = 8.5;
const CHECK_INDENT: f32 = 16.0;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum FaceId {
    Regular = 0,
    Bold = 1,
}

#[derive(Clone, Copy)]
struct Style {
    face: FaceId,
    size: f32,
    leading: f32,
    gray: f32,
    before: f32,
    after: f32,
}

const TITLE: Style = Style {
    face: FaceId::Bold,
    size: 19.0,
    leading: 24.0,
    gray: 0.0,
    before: 0.0,
    after: 4.0,
};
const SUBTITLE: Style = Style {
    face: FaceId::Regular,
    size: 11.0,
    leading: 15.0,
    gray: 0.35,
    before: 0.0,
    after: 0.0,
};
const HEADING: Style = Style {
    face: FaceId::Bold,
    size: 13.5,
    leading: 18.0,
    gray: 0.0,
    before: 14.0,
    after: 4.0,
};
const SUBHEADING: Style = Style {
    face: FaceId::Bold,
    size: 10.5,
    leading: 14.5,
    gray: 0.0,
    before: 8.0,
    after: 1.0,
};
const BODY: Style = Style {
    face: FaceId::Regular,
    size: 10.5,
    leading: 14.5,
    gray: 0.0,
    before: 6.0,
    after: 6.0,
};
const LIST: Style = Style {
    before: 0.0,
    after: 2.5,
    ..BODY
};
const NOTE: Style = Style {
    face: FaceId::Regular,
    size: 9.0,
    leading: 12.5,
    gray: 0.45,
    before: 3.0,
    after: 5.0,
};
const FOOTER: Style = Style {
    face: FaceId::Regular,
    size: 8.5,
    leading: 10.0,
    gray: 0.4,
    before: 0.0,
    after: 0.0,
};

// ---------------------------------------------------------------------------
// Fonts.

struct Font {
    face: ttf_parser::Face<'static>,
    data: &'static [u8],
    name: &'static str,
    /// PDF base font name; the six-letter tag marks it as a subset as the spec asks.
    base_name: &'static [u8],
    units_per_em: f32,
    /// Glyph shown for characters the font lacks, so user text never panics or vanishes silently.
    fallback: Option<(u16, char)>,
    remapper: subsetter::GlyphRemapper,
    /// New glyph id -> (character it stands for, advance in font units), for /W and /ToUnicode.
    used: BTreeMap<u16, (char, u16)>,
}

impl Font {
    fn new(data: &'static [u8], name: &'static str, base_name: &'static [u8]) -> Result<Self, PdfError> {
        let face = ttf_parser::Face::parse(data, 0).map_err(|_| PdfError::FontParse(name))?;
        let fallback = ['\u{FFFD}', '?']
            .into_iter()
            .find_map(|c| face.glyph_index(c).filter(|g| g.0 != 0).map(|g| (g.0, c)));
        Ok(Self {
            units_per_em: f32::from(face.units_per_em().max(1)),
            face,
            data,
            name,
            base_name,
            fallback,
            remapper: subsetter::GlyphRemapper::new(),
            used: BTreeMap::new(),
        })
    }

    /// Original glyph id, advance and the character actually shown, or `None` for invisible characters.
    fn glyph(&self, c: char) -> Option<(u16, u16, char)> {
        let c = if c == '\t' { ' ' } else { c };
        // Format characters (soft hyphen, zero-width space/joiners, BOM) would
        // otherwise show up as replacement boxes in pasted text.
        if c.is_control()
            || matches!(c, '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}')
        {
            return None;
        }
        let (gid, shown) = match self.face.glyph_index(c) {
            Some(g) if g.0 != 0 => (g.0, c),
            _ => self.fallback?,
        };
        let advance = self.face.glyph_hor_advance(ttf_parser::GlyphId(gid)).unwrap_or(0);
        Some((gid, advance, shown))
    }

    fn char_width(&self, c: char, size: f32) -> f32 {
        self.glyph(c)
            .map_or(0.0, |(_, adv, _)| f32::from(adv) * size / self.units_per_em)
    }

    fn width(&self, text: &str, size: f32) -> f32 {
        text.chars().map(|c| self.char_width(c, size)).sum()
    }

    /// Encodes text as 2-byte CIDs (Identity-H) and records the glyphs for the subset.
    fn encode(&mut self, text: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(text.len() * 2);
        for c in text.chars() {
            if let Some((gid, advance, shown)) = self.glyph(c) {
                let cid = self.remapper.remap(gid);
                self.used.entry(cid).or_insert((shown, advance));
                out.extend_from_slice(&cid.to_be_bytes());
            }
        }
        out
    }

    fn scale(&self, v: impl Into<f32>) -> f32 {
        v.into() * 1000.0 / self.units_per_em
    }
}

// ---------------------------------------------------------------------------
// Layout: blocks -> pages of positioned items.

#[derive(Debug)]
enum Item {
    /// `y` is the baseline, measured from the page bottom as PDF does.
    Text {
        face: FaceId,
        size: f32,
        gray: f32,
        x: f32,
        y: f32,
        text: String,
    },
    /// `y` is the bottom edge of the box.
    Checkbox { x: f32, y: f32, done: bool },
    Rule {
        x1: f32,
        x2: f32,
        y: f32,
        gray: f32,
        width: f32,
    },
}

#[derive(Clone, Copy)]
enum Marker {
    None,
    Bullet,
    Check(bool),
}

struct Layout<'f> {
    fonts: &'f [Font; 2],
    pages: Vec<Vec<Item>>,
    /// Distance from the page top to the top of the next line box.
    y: f32,
    /// Space still owed after the previous block; collapses with the next block's `before`.
    gap: f32,
}

impl Layout<'_> {
    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = MARGIN_TOP;
        self.gap = 0.0;
    }

    fn at_top(&self) -> bool {
        self.y <= MARGIN_TOP
    }

    fn limit() -> f32 {
        PAGE_H - BODY_BOTTOM
    }

    fn push(&mut self, item: Item) {
        if let Some(page) = self.pages.last_mut() {
            page.push(item);
        }
    }

    fn open_block(&mut self, style: &Style) {
        if !self.at_top() {
            self.y += self.gap.max(style.before);
        }
        self.gap = 0.0;
    }

    /// Places one line and returns the top of its line box (from the page top).
    fn line(&mut self, style: &Style, x: f32, text: String) -> f32 {
        if self.y + style.leading > Self::limit() && !self.at_top() {
            self.new_page();
        }
        let top = self.y;
        let baseline = top + (style.leading + CAP_HEIGHT * style.size) / 2.0;
        if !text.is_empty() {
            self.push(Item::Text {
                face: style.face,
                size: style.size,
                gray: style.gray,
                x,
                y: PAGE_H - baseline,
                text,
            });
        }
        self.y += style.leading;
        top
    }

    fn wrap(&self, style: &Style, text: &str, width: f32) -> Vec<String> {
        wrap(&self.fonts[style.face as usize], text, style.size, width)
    }

    fn block(&mut self, style: &Style, indent: f32, text: &str, marker: Marker) {
        let lines = self.wrap(style, text, CONTENT_W - indent);
        self.open_block(style);
        // Short blocks (an action item, a 2–3 line paragraph) read badly when split.
        if lines.len() <= KEEP_WHOLE_LINES
            && self.y + lines.len() as f32 * style.leading > Self::limit()
            && !self.at_top()
        {
            self.new_page();
        }
        for (i, line) in lines.into_iter().enumerate() {
            let top = self.line(style, MARGIN_X + indent, line);
            if i > 0 {
                continue;
            }
            let baseline = PAGE_H - (top + (style.leading + CAP_HEIGHT * style.size) / 2.0);
            match marker {
                Marker::None => {}
                Marker::Bullet => self.push(Item::Text {
                    face: FaceId::Regular,
                    size: style.size,
                    gray: style.gray,
                    x: MARGIN_X + BULLET_X,
                    y: baseline,
                    text: "•".to_owned(),
                }),
                Marker::Check(done) => {
                    // Centred on the capitals rather than the line box, so it sits with the text.
                    let centre = baseline + CAP_HEIGHT * style.size / 2.0;
                    self.push(Item::Checkbox {
                        x: MARGIN_X + 1.0,
                        y: centre - CHECK_BOX / 2.0,
                        done,
                    });
                }
            }
        }
        self.gap = style.after;
    }

    /// Starts a new page when a heading plus the first line after it would not fit.
    fn keep_heading_with_next(&mut self, text: &str, next: Option<&Block>) {
        if self.at_top() {
            return;
        }
        let lines = self.wrap(&HEADING, text, CONTENT_W).len() as f32;
        let mut needed = self.gap.max(HEADING.before) + lines * HEADING.leading;
        if let Some(next) = next {
            let (style, indent, text, _) = parts(next);
            let lines = self.wrap(&style, text, CONTENT_W - indent).len();
            // Match `block`: a short block moves whole, a longer one needs only its first line here.
            let kept = if lines <= KEEP_WHOLE_LINES { lines } else { 1 };
            needed += HEADING.after.max(style.before) + kept as f32 * style.leading;
        }
        if self.y + needed > Self::limit() {
            self.new_page();
        }
    }
}

/// How a block is drawn: its style, the indent of its text, the text and the marker before it.
fn parts(block: &Block) -> (Style, f32, &str, Marker) {
    match block {
        Block::Heading(text) => (HEADING, 0.0, text, Marker::None),
        Block::Subheading(text) => (SUBHEADING, 0.0, text, Marker::None),
        Block::Paragraph(text) => (BODY, 0.0, text, Marker::None),
        Block::Note(text) => (NOTE, 0.0, text, Marker::None),
        Block::Bullet(text) => (LIST, BULLET_INDENT, text, Marker::Bullet),
        Block::Check { done, text } => (LIST, CHECK_INDENT, text, Marker::Check(*done)),
        Block::PageBreak => (BODY, 0.0, "", Marker::None),
    }
}

/// Greedy line breaking by measured advances: at spaces, or between characters for over-long words.
fn wrap(font: &Font, text: &str, size: f32, width: f32) -> Vec<String> {
    // A hair of tolerance so a line that fits exactly is not broken by rounding.
    let width = width + 0.01;
    let space = font.width(" ", size);
    let mut out = Vec::new();
    for raw in text.split('\n') {
        let mut line = String::new();
        let mut line_w = 0.0;
        for word in raw.split([' ', '\t', '\r']).filter(|w| !w.is_empty()) {
            let word_w = font.width(word, size);
            if !line.is_empty() {
                if line_w + space + word_w <= width {
                    line.push(' ');
                    line.push_str(word);
                    line_w += space + word_w;
                    continue;
                }
                out.push(std::mem::take(&mut line));
                line_w = 0.0;
            }
            if word_w <= width {
                line.push_str(word);
                line_w = word_w;
                continue;
            }
            for c in word.chars() {
                let cw = font.char_width(c, size);
                // Always keep one character per line so a glyph wider than the line cannot loop.
                if line_w + cw > width && !line.is_empty() {
                    out.push(std::mem::take(&mut line));
                    line_w = 0.0;
                }
                line.push(c);
                line_w += cw;
            }
        }
        out.push(line);
    }
    out
}

/// Cuts `text` with an ellipsis so it fits `width`.
fn truncate(font: &Font, text: &str, size: f32, width: f32) -> String {
    if font.width(text, size) <= width {
        return text.to_owned();
    }
    let budget = width - font.width("…", size);
    let mut out = String::new();
    let mut w = 0.0;
    for c in text.chars() {
        w += font.char_width(c, size);
        if w > budget {
            break;
        }
        out.push(c);
    }
    out.truncate(out.trim_end().len());
    out.push('…');
    out
}

fn layout(report: &Report, fonts: &[Font; 2]) -> Vec<Vec<Item>> {
    let mut l = Layout {
        fonts,
        pages: Vec::new(),
        y: MARGIN_TOP,
        gap: 0.0,
    };
    l.new_page();

    for line in l.wrap(&TITLE, &report.title, CONTENT_W) {
        l.line(&TITLE, MARGIN_X, line);
    }
    if !report.subtitle.trim().is_empty() {
        l.y += TITLE.after;
        for line in l.wrap(&SUBTITLE, &report.subtitle, CONTENT_W) {
            l.line(&SUBTITLE, MARGIN_X, line);
        }
    }
    l.y += 6.0;
    let rule_y = PAGE_H - l.y;
    l.push(Item::Rule {
        x1: MARGIN_X,
        x2: PAGE_W - MARGIN_X,
        y: rule_y,
        gray: 0.7,
        width: 0.6,
    });
    l.gap = 12.0;

    for (i, block) in report.blocks.iter().enumerate() {
        if let Block::PageBreak = block {
            if !l.at_top() {
                l.new_page();
            }
            continue;
        }
        let (style, indent, text, marker) = parts(block);
        if let Block::Heading(_) = block {
            l.keep_heading_with_next(text, report.blocks.get(i + 1));
        }
        l.block(&style, indent, text, marker);
    }

    let mut pages = l.pages;
    let total = pages.len();
    let regular = &fonts[FaceId::Regular as usize];
    for (n, page) in pages.iter_mut().enumerate() {
        let number = format!("pagina {} van {}", n + 1, total);
        let number_w = regular.width(&number, FOOTER.size);
        let footer = truncate(regular, &report.footer, FOOTER.size, CONTENT_W - number_w - 18.0);
        page.push(Item::Rule {
            x1: MARGIN_X,
            x2: PAGE_W - MARGIN_X,
            y: FOOTER_RULE_Y,
            gray: 0.75,
            width: 0.5,
        });
        for (x, text) in [(MARGIN_X, footer), (PAGE_W - MARGIN_X - number_w, number)] {
            page.push(Item::Text {
                face: FOOTER.face,
                size: FOOTER.size,
                gray: FOOTER.gray,
                x,
                y: FOOTER_BASELINE,
                text,
            });
        }
    }
    pages
}

// ---------------------------------------------------------------------------
// PDF writing.

const FONT_NAMES: [Name<'static>; 2] = [Name(b"F1"), Name(b"F2")];
const IDENTITY: SystemInfo<'static> = SystemInfo {
    registry: Str(b"Adobe"),
    ordering: Str(b"Identity"),
    supplement: 0,
};

fn write_pdf(report: &Report, pages: &[Vec<Item>], fonts: &mut [Font; 2]) -> Result<Vec<u8>, PdfError> {
    let mut next = Ref::new(1);
    let mut alloc = || next.bump();
    let catalog_id = alloc();
    let tree_id = alloc();
    let info_id = alloc();
    let font_ids: Vec<Ref> = (0..fonts.len()).map(|_| alloc()).collect();
    let page_ids: Vec<(Ref, Ref)> = pages.iter().map(|_| (alloc(), alloc())).collect();

    let mut pdf = Pdf::new();
    pdf.catalog(catalog_id)
        .pages(tree_id)
        .lang(TextStr("nl-BE"))
        .viewer_preferences()
        .display_doc_title(true);
    pdf.document_info(info_id)
        .title(TextStr(&report.title))
        .creator(TextStr("Samen"))
        .producer(TextStr("Samen"));
    pdf.pages(tree_id)
        .kids(page_ids.iter().map(|&(page, _)| page))
        .count(page_ids.len() as i32);

    for (items, &(page_id, content_id)) in pages.iter().zip(&page_ids) {
        let content = page_content(items, fonts);
        let mut page = pdf.page(page_id);
        page.parent(tree_id)
            .media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H))
            .contents(content_id);
        let mut resources = page.resources();
        let mut font_dict = resources.fonts();
        for (name, &id) in FONT_NAMES.iter().zip(&font_ids) {
            font_dict.pair(*name, id);
        }
        font_dict.finish();
        resources.finish();
        page.finish();
        pdf.stream(content_id, &content);
    }

    // Fonts go last: only now do we know every glyph the pages use.
    for (font, &type0_id) in fonts.iter().zip(&font_ids) {
        write_font(&mut pdf, font, type0_id, &mut alloc)?;
    }
    Ok(pdf.finish())
}

fn page_content(items: &[Item], fonts: &mut [Font; 2]) -> Vec<u8> {
    let mut c = Content::new();
    for item in items {
        match item {
            Item::Text {
                face,
                size,
                gray,
                x,
                y,
                text,
            } => {
                let bytes = fonts[*face as usize].encode(text);
                c.set_fill_gray(*gray);
                c.begin_text();
                c.set_font(FONT_NAMES[*face as usize], *size);
                c.next_line(*x, *y);
                c.show(Str(&bytes));
                c.end_text();
            }
            Item::Checkbox { x, y, done } => {
                c.set_stroke_gray(0.2).set_line_width(0.8);
                c.rect(*x, *y, CHECK_BOX, CHECK_BOX).stroke();
                if *done {
                    let s = CHECK_BOX;
                    c.set_line_width(1.3)
                        .set_line_cap(LineCapStyle::RoundCap)
                        .set_line_join(LineJoinStyle::RoundJoin);
                    c.move_to(x + 0.2 * s, y + 0.52 * s)
                        .line_to(x + 0.42 * s, y + 0.25 * s)
                        .line_to(x + 0.82 * s, y + 0.8 * s);
                    c.stroke();
                    c.set_line_cap(LineCapStyle::ButtCap)
                        .set_line_join(LineJoinStyle::MiterJoin);
                }
            }
            Item::Rule {
                x1,
                x2,
                y,
                gray,
                width,
            } => {
                c.set_stroke_gray(*gray).set_line_width(*width);
                c.move_to(*x1, *y).line_to(*x2, *y).stroke();
            }
        }
    }
    c.finish().into_vec()
}

fn write_font(
    pdf: &mut Pdf,
    font: &Font,
    type0_id: Ref,
    alloc: &mut impl FnMut() -> Ref,
) -> Result<(), PdfError> {
    let cid_id = alloc();
    let descriptor_id = alloc();
    let cmap_id = alloc();
    let file_id = alloc();
    let base = Name(font.base_name);

    pdf.type0_font(type0_id)
        .base_font(base)
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid_id)
        .to_unicode(cmap_id);

    let mut cid = pdf.cid_font(cid_id);
    cid.subtype(CidFontType::Type2)
        .base_font(base)
        .system_info(IDENTITY)
        .font_descriptor(descriptor_id)
        .default_width(0.0)
        .cid_to_gid_map_predefined(Name(b"Identity"));
    let mut widths = cid.widths();
    // Runs of consecutive CIDs keep /W short; the remapper hands out CIDs in order of first use.
    let mut run: Option<(u16, Vec<f32>)> = None;
    for (&cid, &(_, advance)) in &font.used {
        match &mut run {
            Some((start, ws)) if usize::from(*start) + ws.len() == usize::from(cid) => {
                ws.push(font.scale(advance))
            }
            _ => {
                if let Some((start, ws)) = run.take() {
                    widths.consecutive(start, ws);
                }
                run = Some((cid, vec![font.scale(advance)]));
            }
        }
    }
    if let Some((start, ws)) = run {
        widths.consecutive(start, ws);
    }
    widths.finish();
    cid.finish();

    let face = &font.face;
    let bbox = face.global_bounding_box();
    let bold = face.is_bold();
    pdf.font_descriptor(descriptor_id)
        .name(base)
        .flags(FontFlags::NON_SYMBOLIC)
        .bbox(Rect::new(
            font.scale(bbox.x_min),
            font.scale(bbox.y_min),
            font.scale(bbox.x_max),
            font.scale(bbox.y_max),
        ))
        .italic_angle(0.0)
        .ascent(font.scale(face.ascender()))
        .descent(font.scale(face.descender()))
        .cap_height(font.scale(face.capital_height().unwrap_or(face.ascender())))
        .stem_v(if bold { 140.0 } else { 80.0 })
        .font_file2(file_id);

    let mut cmap = UnicodeCmap::new(Name(b"Samen-UTF16"), IDENTITY);
    for (&cid, &(c, _)) in &font.used {
        cmap.pair(cid, c);
    }
    let cmap = cmap.finish();
    pdf.cmap(cmap_id, &cmap);

    let subset = subsetter::subset(font.data, 0, &font.remapper).map_err(|source| PdfError::Subset {
        name: font.name,
        source,
    })?;
    // /Length1 (the unfiltered size) is required for embedded TrueType programs.
    pdf.stream(file_id, &subset)
        .pair(Name(b"Length1"), subset.len() as i32);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        let mut blocks = vec![
            Block::Heading("Prioriteiten".into()),
            Block::Paragraph(
                "We kozen samen één hoofddoel voor dit schooljaar: Noor moet ‘s ochtends rustig kunnen \
                 starten in de klas. De leerkracht, de ouders en de CLB-medewerker bekeken wat er vandaag \
                 al werkt – en wat nog niet — zodat we daarop kunnen verderbouwen…"
                    .into(),
            ),
            Block::Subheading("Wat gaat goed?".into()),
            Block::Bullet("Noor leest graag voor; de “leeshoek” geeft haar rust.".into()),
            Block::Bullet(
                "Het overleg met de zorgcoördinator loopt vlot: afspraken worden genoteerd en na twee \
                 weken geëvalueerd, ook als er geen problemen gemeld worden door de ouders of de klasleraar."
                    .into(),
            ),
            Block::Note("Nog niets ingevuld.".into()),
            Block::Heading("Afspraken".into()),
            Block::Check {
                done: true,
                text: "Ouders bezorgen het verslag van de logopedist aan de school.".into(),
            },
            Block::Check {
                done: false,
                text: "De klasleraar probeert een vaste begroeting aan de deur uit en noteert na één week \
                       hoe de start van de dag verliep; dit wordt besproken op het volgende overleg."
                    .into(),
            },
            Block::Paragraph("Regel één\nRegel twee: naïef, café, reünie, façade, à la carte, Noël.".into()),
            Block::Paragraph(
                "Eenheelllanggewoordzonderspatieszoalsdiesomsineenwebadresvoorkomt/\
                 https://voorbeeld.be/een/heel/lang/pad/naar/een/document/dat/niet/op/één/regel/past.pdf"
                    .into(),
            ),
        ];
        for i in 1..=14 {
            blocks.push(Block::Heading(format!("Opvolging {i}")));
            blocks.push(Block::Paragraph(format!(
                "Punt {i}: we bespreken de vorderingen, de zorgen van de ouders en de ‘s ochtends \
                 geplande begeleiding. Iedereen krijgt de kans om te reageren op de voorstellen."
            )));
            blocks.push(Block::Check {
                done: i % 2 == 0,
                text: format!("Actiepunt {i} opvolgen tegen de volgende vergadering."),
            });
        }
        Report {
            title: "Verslag MDO – Noor Peeters".into(),
            subtitle: "Donderdag 12 oktober 2025 · Basisschool De Regenboog · CLB Brugge".into(),
            footer: "Samen · vertrouwelijk – enkel voor betrokkenen".into(),
            blocks,
        }
    }

    #[test]
    fn renders_multi_page_pdf() -> Result<(), PdfError> {
        let bytes = render(&sample())?;
        assert!(bytes.starts_with(b"%PDF-"));
        let pages = bytes
            .windows(12)
            .filter(|w| w == b"/Type /Page\n" || w == b"/Type /Page ")
            .count();
        assert!(pages >= 2, "expected several pages, got {pages}");
        // Subsetting must keep a report small (the full fonts are ~1.4 MB).
        assert!(bytes.len() < 150_000, "PDF is {} bytes", bytes.len());
        Ok(())
    }

    #[test]
    fn missing_glyphs_and_odd_input_do_not_panic() -> Result<(), PdfError> {
        let report = Report {
            title: String::new(),
            subtitle: String::new(),
            footer: "x".repeat(500),
            blocks: vec![
                Block::Paragraph(
                    "emoji 😀, CJK 漢字, controls \u{1}\u{7f}, soft\u{AD}hyphen, zw\u{200B}sp".into(),
                ),
                Block::Paragraph(String::new()),
                Block::Bullet("\n\n".into()),
                Block::Heading("Laatste kop zonder vervolg".into()),
            ],
        };
        assert!(render(&report)?.starts_with(b"%PDF-"));
        let empty = Report {
            title: "Leeg".into(),
            subtitle: String::new(),
            footer: String::new(),
            blocks: vec![],
        };
        assert!(render(&empty)?.starts_with(b"%PDF-"));
        Ok(())
    }

    #[test]
    fn heading_never_ends_a_page() -> Result<(), PdfError> {
        let fonts = [
            Font::new(REGULAR_TTF, "DejaVuSans", b"SAMENA+DejaVuSans")?,
            Font::new(BOLD_TTF, "DejaVuSans-Bold", b"SAMENB+DejaVuSans-Bold")?,
        ];
        // Shift a heading through every position near the page bottom.
        for filler in 0..60 {
            let mut blocks: Vec<Block> = (0..filler)
                .map(|i| Block::Bullet(format!("Opvulregel {i}")))
                .collect();
            blocks.push(Block::Heading("Kop".into()));
            // Three lines: moved whole by the short-block rule, so the heading must go along.
            blocks.push(Block::Paragraph(
                "Tekst die bij de kop hoort.\nTweede regel.\nDerde regel.".into(),
            ));
            let report = Report {
                title: "T".into(),
                subtitle: "S".into(),
                footer: "F".into(),
                blocks,
            };
            for page in layout(&report, &fonts) {
                // The footer is pushed last (rule + two texts); look at the last body item.
                let body: Vec<&Item> = page.iter().rev().skip(3).collect();
                if let Some(Item::Text { size, .. }) = body.first() {
                    assert_ne!(
                        *size, HEADING.size,
                        "heading left alone at page bottom with {filler} fillers"
                    );
                }
            }
        }
        Ok(())
    }

    #[test]
    fn wraps_within_the_line_width() -> Result<(), PdfError> {
        let font = Font::new(REGULAR_TTF, "DejaVuSans", b"SAMENA+DejaVuSans")?;
        let text = "een twee drie vier vijf zes zeven acht negen tien ".repeat(20) + &"x".repeat(400);
        let lines = wrap(&font, &text, BODY.size, CONTENT_W);
        assert!(lines.len() > 5);
        for line in &lines {
            assert!(
                font.width(line, BODY.size) <= CONTENT_W + 0.01,
                "too wide: {line}"
            );
        }
        Ok(())
    }

    #[test]
    fn text_extracts_with_pdftotext() -> Result<(), Box<dyn std::error::Error>> {
        let bytes = render(&sample())?;
        let path = std::env::temp_dir().join(format!("samen-report-{}.pdf", std::process::id()));
        std::fs::write(&path, &bytes)?;
        let output = std::process::Command::new("pdftotext")
            .arg("-layout")
            .arg(&path)
            .arg("-")
            .output();
        if std::env::var_os("KEEP_REPORT_PDF").is_none() {
            std::fs::remove_file(&path)?;
        } else {
            eprintln!("kept {}", path.display());
        }
        let output =
            output.map_err(|e| format!("pdftotext (poppler-utils; scripts/test installs it): {e}"))?;
        assert!(output.status.success());
        let text = String::from_utf8(output.stdout)?;
        for needle in [
            "Prioriteiten",
            "één",
            "‘s ochtends",
            "pagina 2 van",
            "geëvalueerd",
            "“leeshoek”",
            "– en wat nog niet —",
            "verderbouwen…",
            "façade",
            "Noël",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
        }
        Ok(())
    }
}
