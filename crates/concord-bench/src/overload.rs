//! `concord-bench overload`: one organisation floods the broker while
//! another makes calls at a steady pace; prints the flooder's admitted and
//! refused (RESOURCE_EXHAUSTED) calls and the other organisation's latency
//! (p50/p99), with and without the flood.
//!
//! The calls are `grpc.health.v1.Health/Check` over mTLS: they pass through
//! the per-organisation limit layer like every call and touch no store, so
//! the figures measure the limiter and the broker's request path, not the
//! database. Both organisations run in this process, sharing its cores
//! with the broker.

use std::time::{Duration, Instant};

use anyhow::Result;
use concord_e2e::{Db, TestBroker};
use concord_server::Limits;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

const FLOODER: &str = "mps-cw-push";
const OTHER: &str = "mash-officer-1";

pub struct Figures {
    pub flood_ok: u64,
    pub flood_refused: u64,
    pub flood_other_errors: u64,
    pub baseline: Vec<Duration>,
    pub baseline_errors: u64,
    pub under_flood: Vec<Duration>,
    pub other_errors: u64,
}

/// The other organisation's calls, one every `pace`, for `seconds`.
async fn steady(tb: &TestBroker, seconds: f64, pace: Duration) -> (Vec<Duration>, u64) {
    let mut client = HealthClient::new(tb.channel(OTHER).await);
    let end = Instant::now() + Duration::from_secs_f64(seconds);
    let mut ticker = tokio::time::interval(pace);
    let (mut latencies, mut errors) = (Vec::new(), 0);
    while Instant::now() < end {
        ticker.tick().await;
        let t = Instant::now();
        match client
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
        {
            Ok(_) => latencies.push(t.elapsed()),
            Err(_) => errors += 1,
        }
    }
    (latencies, errors)
}

pub async fn run(limits: Limits, flooders: usize, seconds: f64, pace: Duration) -> Result<Figures> {
    let tb = TestBroker::start_with(Db::Sqlite, limits).await;
    let (baseline, baseline_errors) = steady(&tb, seconds, pace).await;

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..flooders {
        let mut client = HealthClient::new(tb.channel(FLOODER).await);
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut refused, mut other) = (0u64, 0u64, 0u64);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                match client
                    .check(HealthCheckRequest {
                        service: String::new(),
                    })
                    .await
                {
                    Ok(_) => ok += 1,
                    Err(s) if s.code() == tonic::Code::ResourceExhausted => refused += 1,
                    Err(_) => other += 1,
                }
            }
            (ok, refused, other)
        }));
    }
    let (under_flood, other_errors) = steady(&tb, seconds, pace).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut flood_ok, mut flood_refused, mut flood_other_errors) = (0, 0, 0);
    for t in tasks {
        let (ok, refused, other) = t.await?;
        flood_ok += ok;
        flood_refused += refused;
        flood_other_errors += other;
    }
    tb.stop().await;
    Ok(Figures {
        flood_ok,
        flood_refused,
        flood_other_errors,
        baseline,
        baseline_errors,
        under_flood,
        other_errors,
    })
}

fn quantile(v: &mut [Duration], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_unstable();
    let i = ((v.len() as f64 - 1.0) * q).round() as usize;
    v[i].as_secs_f64() * 1000.0
}

pub fn print(f: &mut Figures, limits: &Limits, flooders: usize, seconds: f64) {
    println!(
        "limits: {} requests/s per org, burst {}, {} in flight per org; {flooders} flooding callers \
         from {FLOODER}'s org for {seconds} s",
        limits.org_requests_per_second, limits.org_burst, limits.org_max_concurrent
    );
    println!(
        "flooding org: {} admitted ({:.0}/s), {} refused RESOURCE_EXHAUSTED ({:.0}/s), {} other errors",
        f.flood_ok,
        f.flood_ok as f64 / seconds,
        f.flood_refused,
        f.flood_refused as f64 / seconds,
        f.flood_other_errors
    );
    println!("| other org ({OTHER}) | calls | errors | p50 ms | p99 ms |");
    println!("|---|---|---|---|---|");
    let n = f.baseline.len();
    println!(
        "| alone | {n} | {} | {:.2} | {:.2} |",
        f.baseline_errors,
        quantile(&mut f.baseline, 0.5),
        quantile(&mut f.baseline, 0.99)
    );
    let n = f.under_flood.len();
    println!(
        "| during the flood | {n} | {} | {:.2} | {:.2} |",
        f.other_errors,
        quantile(&mut f.under_flood, 0.5),
        quantile(&mut f.under_flood, 0.99)
    );
}
