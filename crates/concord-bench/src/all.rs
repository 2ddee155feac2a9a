//! `concord-bench all`: the whole suite in one command (ingest, link,
//! quality, lookup, aggregate dashboard, audit, policy, overload), each run
//! as a child process of this binary so one benchmark's memory and threads
//! never colour the next, and their figures written into BENCHMARKS.md
//! between two markers, with the machine, the date and the commit. The
//! rest of BENCHMARKS.md (history, analysis) is kept as it is.

use std::{
    fmt::Write as _,
    path::Path,
    process::{Command, Stdio},
    time::Instant,
};

use anyhow::{Context, Result, bail};

pub const BEGIN: &str = "<!-- concord-bench all: begin (generated; edits here are overwritten) -->";
pub const END: &str = "<!-- concord-bench all: end -->";

/// One benchmark of the suite: what it measures and its arguments.
struct Bench {
    title: &'static str,
    target: &'static str,
    args: Vec<String>,
}

fn suite(records: u64, seconds: f64) -> Vec<Bench> {
    let r = records.to_string();
    let s = format!("{seconds}");
    let v = |a: &[&str]| a.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    vec![
        Bench {
            title: "Ingest",
            target: "1,000,000 records in at most 30 s on each store",
            args: v(&["ingest", "--records", &r, "--store", "both"]),
        },
        Bench {
            title: "Tokenise and link",
            target: "tokenise ≥ 200,000 records/s on one core; link 1,000,000 records < 30 s; a 50,000 delta < 5 s",
            args: v(&["link", "--records", &r]),
        },
        Bench {
            title: "Linkage quality",
            target: "with NHS numbers precision ≥ 0.999, recall ≥ 0.99; without, precision ≥ 0.995, recall ≥ 0.97",
            args: v(&["quality"]),
        },
        Bench {
            title: "Lookups (FindPerson)",
            target: "p99 ≤ 10 ms with 64 concurrent callers over mTLS against 1,000,000 records; ≥ 2,000 lookups/s",
            args: v(&[
                "lookup",
                "--records",
                &r,
                "--store",
                "both",
                "--seconds",
                &s,
            ]),
        },
        Bench {
            title: "Dashboard (a year over the records)",
            target: "under 300 ms over 1,000,000 records on both stores",
            args: v(&["dashboard", "--records", &r, "--store", "both"]),
        },
        Bench {
            title: "Audit appends",
            target: "≥ 3,000 appends/s; checkpoints at most 5 s apart",
            args: v(&["audit", "--events", "100000", "--store", "both"]),
        },
        Bench {
            title: "Policy decisions",
            target: "lookup decision p99 ≤ 100 µs including building the input (OPA's published p99: 134 µs)",
            args: v(&["policy", "--decisions", "100000"]),
        },
        Bench {
            title: "Per-organisation limits under a flood",
            target: "the flooding organisation gets RESOURCE_EXHAUSTED, the other keeps its latency",
            args: v(&["overload", "--seconds", &s]),
        },
    ]
}

/// The machine, as BENCHMARKS.md states it.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, m)| m.trim().to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|l| l.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0 / 1024.0);
    let os = std::fs::read_to_string("/etc/os-release")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|n| n.trim_matches('"').to_owned())
        .unwrap_or_else(|| "unknown OS".into());
    let load = std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .next()
        .unwrap_or("?")
        .to_owned();
    format!("{cores} cores ({model}), {mem_gib:.0} GiB, {os}; load average {load} at the start")
}

fn output_of(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Runs the suite and rewrites the generated section of `path`.
pub fn run(path: &Path, records: u64, seconds: f64) -> Result<()> {
    let exe = std::env::current_exe().context("the benchmark binary's path")?;
    let started = chrono::Utc::now();
    let mut section = String::new();
    let commit = output_of("git", &["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "?".into());
    let dirty = output_of("git", &["status", "--porcelain", "--untracked-files=no"])
        .is_some_and(|s| !s.is_empty());
    let rustc = output_of("rustc", &["--version"]).unwrap_or_else(|| "rustc ?".into());
    let pg = output_of(
        "psql",
        &[
            &concord_e2e::postgres_admin_url(),
            "-Atc",
            "SHOW server_version",
        ],
    )
    .map_or_else(|| "PostgreSQL ?".into(), |v| format!("PostgreSQL {v}"));
    writeln!(section, "{BEGIN}\n")?;
    writeln!(section, "## The whole suite (`concord-bench all`)\n")?;
    writeln!(
        section,
        "```sh\ncargo run --release -p concord-bench -- all --records {records} --seconds {seconds}\n```\n"
    )?;
    writeln!(
        section,
        "Run {} at commit `{commit}`{}, release build, {rustc}, {pg} on the same machine.\n\nMachine: {}.\n",
        started.format("%Y-%m-%d %H:%M UTC"),
        if dirty {
            " (with uncommitted changes)"
        } else {
            ""
        },
        machine()
    )?;
    let suite = suite(records, seconds);
    let total = suite.len();
    let mut failed = Vec::new();
    for (i, b) in suite.iter().enumerate() {
        eprintln!(
            "[{}/{total}] {}: concord-bench {}",
            i + 1,
            b.title,
            b.args.join(" ")
        );
        let t = Instant::now();
        let out = Command::new(&exe)
            .args(&b.args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .output()
            .with_context(|| format!("starting concord-bench {}", b.args.join(" ")))?;
        let took = t.elapsed().as_secs_f64();
        let stdout = String::from_utf8_lossy(&out.stdout);
        eprintln!("[{}/{total}] {} done in {took:.0} s", i + 1, b.title);
        writeln!(section, "### {}\n", b.title)?;
        writeln!(
            section,
            "`concord-bench {}` ({took:.0} s). Target: {}.\n",
            b.args.join(" "),
            b.target
        )?;
        if out.status.success() {
            writeln!(section, "{}\n", stdout.trim())?;
        } else {
            failed.push(b.title);
            writeln!(
                section,
                "**Failed** ({}); what it printed:\n\n```\n{}\n```\n",
                out.status,
                stdout.trim()
            )?;
        }
    }
    writeln!(section, "{END}")?;
    let old =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let new = splice(&old, &section);
    std::fs::write(path, new).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("wrote the suite's figures into {}", path.display());
    if !failed.is_empty() {
        bail!("benchmarks failed: {}", failed.join(", "));
    }
    Ok(())
}

/// `old` with its generated section replaced by `section`, or with
/// `section` inserted after the introduction (before the first `## `).
pub fn splice(old: &str, section: &str) -> String {
    if let (Some(b), Some(e)) = (old.find(BEGIN), old.find(END))
        && b < e
    {
        let e = e + END.len();
        return format!("{}{}{}", &old[..b], section.trim_end(), &old[e..]);
    }
    match old.find("\n## ") {
        Some(at) => format!("{}\n{}\n{}", &old[..at], section.trim_end(), &old[at..]),
        None => format!("{}\n\n{}\n", old.trim_end(), section.trim_end()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(body: &str) -> String {
        format!("{BEGIN}\n{body}\n{END}\n")
    }

    #[test]
    fn splice_inserts_before_the_first_section_then_replaces_in_place() {
        let doc = "# Benchmarks\n\nintro\n\n## Ingest\n\nfigures\n";
        let once = splice(doc, &section("first"));
        assert!(once.starts_with("# Benchmarks\n\nintro\n"));
        assert!(once.find("first").unwrap() < once.find("## Ingest").unwrap());
        let twice = splice(&once, &section("second"));
        assert!(!twice.contains("first") && twice.contains("second"));
        assert_eq!(twice.matches(BEGIN).count(), 1);
        assert!(twice.ends_with("## Ingest\n\nfigures\n"), "{twice}");
    }
}
