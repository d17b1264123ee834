//! samen-load: M rooms × N real Yjs editors against a loopback y-websocket (Samen, the
//! reference server) or Hocuspocus server. Prints one JSON line; see `--help`.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use clap::Parser;
use samen_client::load::config::{Cli, Plan};
use samen_client::load::run::{self, Barrier, Output};

fn main() -> ExitCode {
    let started = Instant::now();
    let cli = Cli::parse();
    let room_file = match &cli.room_ids_file {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => Some(text),
            Err(e) => {
                eprintln!("samen-load: --room-ids-file {}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    let run_id = cli.run_id.clone().unwrap_or_else(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        format!("{:x}{:04x}", std::process::id(), nanos & 0xffff)
    });
    let plan = match Plan::from_cli(&cli, room_file.as_deref(), &run_id) {
        Ok(plan) => Arc::new(plan),
        Err(e) => {
            eprintln!("samen-load: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(plan.threads)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("samen-load: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };

    if cli.worker {
        let report = runtime.block_on(run::run_worker(plan, cli.worker_index, Barrier::Stdio));
        println!("{}", serde_json::json!({"type": "report", "report": report}));
        runtime.shutdown_timeout(std::time::Duration::from_secs(1));
        return ExitCode::SUCCESS;
    }

    let report = if plan.workers > 1 {
        // The workers get the same arguments; they pick their rooms by index.
        let args: Vec<_> = std::env::args_os().skip(1).collect();
        runtime.block_on(run::run_workers(plan.clone(), args, &run_id))
    } else {
        runtime.block_on(run::run_worker(plan.clone(), 0, Barrier::None))
    };
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    let cpu = run::cpu_seconds().map(|(own, children)| own + children);
    let output = Output::new(&plan, &report, cpu, started.elapsed());
    match serde_json::to_string(&output) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("samen-load: {e}");
            ExitCode::FAILURE
        }
    }
}
