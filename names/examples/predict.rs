//! Reads the evaluation set (JSON lines with `id` and `text`) on stdin and writes, per
//! sentence, the detector's names as character offsets; then prints its throughput on stderr.
//! Used by `scripts/bench-names`.

use std::io::{BufRead, Write};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let none = samen_names::allowed([]);
    let mut texts = Vec::new();
    let mut out = std::io::stdout().lock();
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let item: serde_json::Value = serde_json::from_str(&line)?;
        let id = item["id"].as_str().ok_or("an item without id")?;
        let text = item["text"].as_str().ok_or("an item without text")?;
        let char_at = |byte: usize| text[..byte].chars().count();
        let spans: Vec<(usize, usize, &str)> = samen_names::find_names(text, &none)
            .iter()
            .map(|f| (char_at(f.start), char_at(f.end), f.kind.key()))
            .collect();
        writeln!(out, "{}", serde_json::json!({ "id": id, "spans": spans }))?;
        texts.push(text.to_string());
    }
    // Throughput over at least 8 MB: the sentences joined into paragraphs, repeated.
    let paragraph = texts.join(" ");
    if paragraph.is_empty() {
        return Ok(());
    }
    let copies = (8_000_000 / paragraph.len()).max(1);
    let text = vec![paragraph.as_str(); copies].join("\n");
    let started = Instant::now();
    let found = samen_names::find_names(&text, &none).len();
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "throughput: {:.1} MB/s ({:.1} MB in {:.0} ms, {found} findings)",
        text.len() as f64 / 1e6 / seconds,
        text.len() as f64 / 1e6,
        seconds * 1e3
    );
    Ok(())
}
