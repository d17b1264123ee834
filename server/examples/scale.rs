//! The volume of a CLB after five years (issue 18, point 5): one CLB serving 60 schools,
//! 5 school years, 40 registrations per school per year (12,000), each with its sections
//! written as a live document and two comments, all in the search index; then how fast a
//! school's overview, the CLB's overview across its schools and searches answer over HTTP.
//!
//!     cargo run --release -p samen-server --example scale
//!     SCALE_SCHOOLS=10 SCALE_YEARS=2 cargo run --release -p samen-server --example scale
//!
//! The data lives in a temporary directory (under /dev/shm when there is one: the
//! generator's fsyncs are not what is measured), or in the PostgreSQL database
//! `SCALE_POSTGRES_URL` names (an empty one: `scripts/pg-cluster ensure` gives a URL). Prints JSON lines: what was generated and
//! how long it took, then per request p50, p95 and max in milliseconds over 200 requests.

mod common;

use std::time::{Duration, Instant};

use samen_crdt::Section;
use samen_server::db::{EntryPlace, NewEntry, NewRegistration};
use samen_server::storage::NewUpdate;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Words of a dossier, combined into signals, understandings, advice and comments.
const THEMES: [(&str, &str); 6] = [
    ("pesten", "pesten op de speelplaats"),
    ("leerplicht/spijbelen", "problematische afwezigheden"),
    ("welbevinden", "faalangst bij toetsen"),
    ("gedrag", "onrust in de klas na de middagpauze"),
    ("leerproblemen", "leesachterstand in de tweede graad"),
    ("studiekeuze", "twijfels over de studiekeuze"),
];
const PLACES: [&str; 5] = [
    "in het eerste leerjaar",
    "in de derde graad",
    "tijdens de sportdag",
    "op de bus",
    "in de refter",
];
const ADVICE: [&str; 5] = [
    "Meer toezicht en een duidelijke afspraak met de leerlingenraad.",
    "Een herstelgesprek in de klas en een opvolging na zes weken.",
    "Ouders betrekken via een gesprek met de zorgcoördinator.",
    "Werk met een observatie-instrument en bespreek het op het MDO.",
    "Een schoolbreed pestactieplan met cyberpesten als apart luik.",
];

fn percentiles(mut ms: Vec<f64>) -> (f64, f64, f64) {
    ms.sort_by(f64::total_cmp);
    let at = |p: f64| {
        ms[((ms.len() as f64 * p).ceil() as usize)
            .saturating_sub(1)
            .min(ms.len() - 1)]
    };
    (at(0.5), at(0.95), ms[ms.len() - 1])
}

#[tokio::main]
async fn main() {
    let (schools, years, per_year) = (
        env("SCALE_SCHOOLS", 60),
        env("SCALE_YEARS", 5),
        env("SCALE_PER_YEAR", 40),
    );
    let shm = std::path::Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm)
    } else {
        tempfile::tempdir()
    }
    .expect("temp dir");
    let url = std::env::var("SCALE_POSTGRES_URL").ok();
    let world = common::world_on(dir.path(), url.as_deref(), "Eerste registratie").await;
    let (db, store) = (&world.db, &world.store);
    let clb = db.institution("900001").await.expect("clb").expect("the CLB");

    let started = Instant::now();
    let mut registrations = 0usize;
    let mut numbers = Vec::new();
    for s in 0..schools {
        let number = format!("2{s:05}");
        let school = db
            .create_institution("school", &number, &format!("School {s}"))
            .await
            .expect("school");
        db.link_school(clb.id, school.id).await.expect("link");
        numbers.push(number);
        for y in 0..years {
            let year = format!("{}-{}", 2022 + y, 2023 + y);
            for r in 0..per_year {
                let k = s * 7 + y * 3 + r;
                let (theme, about) = THEMES[k % THEMES.len()];
                let place = PLACES[(k / 3) % PLACES.len()];
                let registration = db
                    .create_registration(NewRegistration {
                        kind: if k % 3 == 0 { "consultation" } else { "signal" }.into(),
                        school_id: school.id,
                        school_year: year.clone(),
                        title: format!("Meer meldingen over {about} {place}"),
                        theme: Some(theme.into()),
                        owner: world.clb_user.id.clone(),
                    })
                    .await
                    .expect("registration");
                let summary = format!(
                    "Sinds de herfstvakantie horen we vaker over {about} {place}; leerkrachten zien het ook."
                );
                let understanding = format!(
                    "Het lijkt samen te hangen met de drukte {place} en weinig toezicht (nummer {k})."
                );
                let advice = ADVICE[k % ADVICE.len()];
                let sections = [
                    (Section::Summary, summary.as_str()),
                    (Section::Understanding, understanding.as_str()),
                    (Section::Advice, advice),
                ];
                let (client, update) = samen_server::demo::document(&sections);
                let entry = NewUpdate {
                    data: update,
                    author: Some(world.clb_user.id.clone()),
                    deleted: Vec::new(),
                };
                store
                    .append(
                        registration.id.into(),
                        0,
                        &[entry],
                        &[(client, world.clb_user.id.clone())],
                    )
                    .await
                    .expect("document");
                for (section, text) in sections {
                    let id = samen_server::db::part_entry_id(registration.id, section.root_name());
                    db.index_entry(&NewEntry {
                        id: &id,
                        school: school.id,
                        place: EntryPlace::Registration(registration.id),
                        part: section.root_name(),
                        text,
                    })
                    .await
                    .expect("index");
                }
                samen_server::search::index_title(db, &registration).await;
                for body in [
                    "Is dit haalbaar tegen de krokusvakantie?",
                    "We bespreken het op het volgende overleg.",
                ] {
                    db.create_thread(registration.id, &world.clb_user.id, body, None, &[])
                        .await
                        .expect("comment");
                }
                let threads = db.threads(registration.id).await.expect("threads");
                for thread in &threads {
                    samen_server::search::index_thread(db, &registration, thread).await;
                }
                registrations += 1;
            }
        }
    }
    let generated = started.elapsed().as_secs_f64();
    println!(
        "{{\"engine\":\"{}\",\"schools\":{schools},\"years\":{years},\"registrations\":{registrations},\"comments\":{},\"generated_seconds\":{generated:.1}}}",
        if url.is_some() { "postgres" } else { "sqlite" },
        registrations * 2
    );

    if let Some(url) = &url {
        // What autovacuum does to a database in use: visibility map and statistics up to
        // date, so that index-only scans read no heap and plans see the real sizes. Right
        // after the bulk load they are not, and autovacuum would run during the requests.
        let pool = sqlx::AnyPool::connect(url).await.expect("postgres");
        sqlx::query("VACUUM ANALYZE")
            .execute(&pool)
            .await
            .expect("vacuum");
        pool.close().await;
    }
    let (addr, stop, task) = common::start_on(dir.path(), url.as_deref()).await;
    let client = reqwest::Client::new();
    let year = format!("{}-{}", 2022 + years - 1, 2023 + years - 1);
    let middle = &numbers[numbers.len() / 2];
    let asks: [(&str, String); 6] = [
        (
            "school overview",
            format!("/api/schools/{middle}/overview?year={year}"),
        ),
        ("clb overview", format!("/api/clb/overview?year={year}")),
        ("search common word (pesten)", "/api/search?q=pesten".into()),
        ("search two words", "/api/search?q=pesten%20bus".into()),
        (
            "search rare word",
            "/api/search?q=leesachterstand%20sportdag".into(),
        ),
        (
            "search in one school",
            format!("/api/search?q=toezicht&school={middle}"),
        ),
    ];
    for (what, path) in asks {
        let url = format!("http://{addr}{path}");
        // A few to warm caches, then the measured ones.
        let mut times = Vec::new();
        for i in 0..220 {
            let start = Instant::now();
            let response = client
                .get(&url)
                .bearer_auth(&world.clb_token)
                .timeout(Duration::from_secs(30))
                .send()
                .await
                .expect("answer");
            let status = response.status();
            let body = response.bytes().await.expect("body");
            assert!(
                status.is_success(),
                "{what}: {status} {}",
                String::from_utf8_lossy(&body)
            );
            if i >= 20 {
                times.push(start.elapsed().as_secs_f64() * 1000.0);
            }
        }
        let (p50, p95, max) = percentiles(times);
        println!("{{\"request\":\"{what}\",\"p50_ms\":{p50:.2},\"p95_ms\":{p95:.2},\"max_ms\":{max:.2}}}");
    }
    let _ = stop.send(());
    let _ = task.await;
    if std::env::var("SCALE_KEEP").is_ok() {
        // For a look at the query plans afterwards (`sqlite3 <dir>/samen.db`).
        println!("{{\"kept\":\"{}\"}}", dir.keep().display());
    }
}
