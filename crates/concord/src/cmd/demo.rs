//! `concord demo`: the whole chain on synthetic data, in one process.
//!
//! 1. A development PKI in `DIR/pki` (created once, then reused).
//! 2. A broker on the embedded default (a fresh SQLite database,
//!    `DIR/concord.sqlite`), started in-process with the same library calls
//!    as `concord serve` (store, policy engine, broker key, linkage,
//!    `concord_server::serve` on a listener bound to 127.0.0.1:0).
//! 3. A synthetic population (`concord synth`'s code) in `DIR/synth`.
//! 4. Every agency's export pushed over mutual TLS as that agency's push
//!    agent, through the code of `concord push --csv --mapping`: read and
//!    tokenised here with the linkage key, identifiers dropped, sent.
//! 5. Linkage, which the broker runs after each committed extract; the
//!    demo waits for every run (`Linkage::watch_runs`).
//! 6. What was linked, from the broker's store: records per source, people,
//!    people known to two or more sources, pending reviews, and linkage
//!    quality against the synthetic truth.
//! 7. Two lookups through `concord lookup`'s code, as `mash-officer-1`: a
//!    synthetic person known to several agencies, for safeguarding_children
//!    (allowed: the per-agency view, what was withheld, the audit receipt),
//!    and the same person for serious_violence_analysis (refused: that
//!    purpose is aggregate only).
//!
//! The truth names agency record ids, which never reach the broker. To
//! measure what the broker linked, each pushed record is recognised in the
//! store by its match-key pseudonyms: the demo holds both keys (it is the
//! agencies and the broker at once), so it computes each record's stored
//! pseudonyms, `HMAC(K_broker, key id ‖ HMAC(K_link, …))`, and looks the
//! stored rows up by them. Records whose pseudonyms are identical to
//! another record's of the same source with a different true person are
//! left out of the measure (and counted).

use concord_synth::DataSetSynth as _;
use std::{
    collections::{HashMap, HashSet},
    fs,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
};

use anyhow::{Context, bail};
use concord_client::{ClientTls, Extract};
use concord_core::{ExtractId, ExtractMode, KeyName, Period, Source, Token};
use concord_keys::{BrokerKey, KeyFile};
use concord_pki::{Partnership, PkiLayout};
use concord_policy::{Bundle, EngineConfig, PolicyEngine};
use concord_server::{Broker, Limits, LinkageKeyIds, tls::TlsMaterial};
use concord_store::{Store, StoreOptions};
use concord_synth::SynthConfig;
use indicatif::ProgressBar;
use tokio::{sync::oneshot, task::JoinHandle};

use crate::{
    agent,
    cmd::{push, synth},
    quality::{self, Judged, Truth},
};

#[derive(Debug, clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct DemoArgs {
    /// Working directory: DIR/pki (kept between runs), DIR/synth and DIR/concord.sqlite (new each run)
    #[arg(long, value_name = "DIR", default_value = ".concord/demo")]
    pub dir: PathBuf,
    /// Synthetic residents to generate (only some of them have records)
    #[arg(long, value_name = "N", default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub people: u64,
    /// Seed of the synthetic population
    #[arg(long, value_name = "N", default_value_t = SynthConfig::default().seed)]
    pub seed: u64,
    /// The policy bundle (its data/partnership.json names the organisations and push agents)
    #[arg(long, value_name = "DIR", default_value = "policies")]
    pub policy_dir: PathBuf,
    /// At the end, keep the broker and its web dashboard running, print a sign-in link, and stop at Ctrl-C
    #[arg(long)]
    pub serve: bool,
}

const AFTER_HELP: &str = "\
Everything runs on this machine, in this process, with the embedded defaults: the broker
listens on 127.0.0.1 (a free port) only while the demo runs. The synthetic people are not
real. Each run starts from an empty database (DIR/concord.sqlite and its -wal and -shm files
are replaced); the PKI in DIR/pki is reused, or created on the first run.";

/// The broker running inside the demo.
struct Running {
    broker: Arc<Broker>,
    store: Store,
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), tonic::transport::Error>>,
}

/// One pushed record, as the quality measure needs it.
struct Sent {
    source: Source,
    /// Its stored pseudonyms, sorted.
    pseudonyms: Vec<Token>,
    person: Option<u64>,
}

pub fn run(args: &DemoArgs) -> anyhow::Result<()> {
    concord_client::install_crypto_provider();
    let dir = &args.dir;
    let partnership_file = args.policy_dir.join("data").join("partnership.json");
    let partnership = Partnership::load(&partnership_file).with_context(|| {
        format!(
            "cannot read the partnership file {} (give --policy-dir, the directory of the policy \
             bundle)",
            partnership_file.display()
        )
    })?;
    let bundle = Bundle::load_dir(&args.policy_dir).with_context(|| {
        format!(
            "the policy bundle in {} does not load (run `concord policy test --dir {}`)",
            args.policy_dir.display(),
            args.policy_dir.display()
        )
    })?;
    let policy = PolicyEngine::new(bundle, EngineConfig::default()).with_context(|| {
        format!(
            "the policy bundle in {} is refused (run `concord policy test --dir {}`)",
            args.policy_dir.display(),
            args.policy_dir.display()
        )
    })?;
    let policy_revision = policy.bundle_revision().to_owned();

    fs::create_dir_all(dir).with_context(|| {
        format!(
            "cannot create the demo directory {} (choose another --dir)",
            dir.display()
        )
    })?;
    let pki_dir = dir.join("pki");
    let (layout, created) = pki(&pki_dir, &partnership_file)?;

    let broker_key = broker_key(&layout.broker_key)?;
    let audit_signer = audit_signer(&layout.audit_key)?;
    let linkage_key = agent::linkage_key(Some(&layout.linkage_key), None)?;
    let read = |path: &Path| {
        fs::read(path).with_context(|| {
            format!(
                "cannot read {} (the PKI in {} is incomplete: move it away to have a new one \
                 created)",
                path.display(),
                pki_dir.display()
            )
        })
    };
    let server_pems = [
        read(&layout.ca_cert)?,
        read(&layout.server_cert)?,
        read(&layout.server_key)?,
    ];

    let database = dir.join("concord.sqlite");
    for suffix in ["", "-wal", "-shm"] {
        let mut name = database.as_os_str().to_owned();
        name.push(suffix);
        match fs::remove_file(PathBuf::from(name)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "cannot replace the demo database {} (is another demo running?)",
                        database.display()
                    )
                });
            }
        }
    }

    let cfg = SynthConfig {
        seed: args.seed,
        people: usize::try_from(args.people).context("--people is too large")?,
        ..SynthConfig::default()
    };
    let period = Period::new(cfg.period_start, cfg.period_end)
        .map_err(|why| anyhow::anyhow!("the synthetic period {why}"))?;
    let synth_dir = dir.join("synth");
    let spinner = ProgressBar::new_spinner().with_message("generating the synthetic population");
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    let pop = concord_synth::generate(&cfg);
    spinner.finish_and_clear();
    let written = synth::write(&pop, &synth_dir)?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let running = runtime.block_on(start(
        &database,
        policy,
        broker_key.clone(),
        LinkageKeyIds::new(linkage_key.id(), None),
        audit_signer,
        &server_pems,
    ))?;

    println!("concord demo in {}", dir.display());
    println!(
        "  pki:       {} (development PKI{})",
        pki_dir.display(),
        if created { ", created now" } else { ", reused" }
    );
    println!(
        "  broker:    https://{} in this process (mutual TLS), SQLite {} (new), policy {} \
         (revision {policy_revision})",
        running.addr,
        database.display(),
        args.policy_dir.display()
    );
    println!(
        "  synthetic: {} residents (seed {}), events {} to {}, in {}: {} agency exports with \
         mappings, and truth.csv",
        cfg.people,
        cfg.seed,
        cfg.period_start,
        cfg.period_end,
        synth_dir.display(),
        written.len()
    );
    println!(
        "pushed each export as its agency's push agent (read and tokenised here with linkage key \
         {}; only tokens and keyed references sent):",
        linkage_key.id()
    );

    let broker_url = format!("https://{}", running.addr);
    let mut sent: Vec<Sent> = Vec::new();
    let mut pushed_sources: HashSet<Source> = HashSet::new();
    let mut committed = 0u64;
    let truth = Truth::from_rows(
        &linkage_key,
        pop.truth
            .iter()
            .map(|t| (t.data_set.source(), t.record_ref.clone(), t.person)),
    );
    for w in &written {
        let org = w.data_set.org();
        let Some(user) = partnership
            .certificates
            .iter()
            .find(|c| c.org == org && c.role == "push_agent")
            .map(|c| c.user.clone())
        else {
            bail!(
                "the partnership file {} gives {org} no push agent certificate, so its export \
                 cannot be pushed",
                partnership_file.display()
            );
        };
        let source = w.data_set.source();
        let mode = if pushed_sources.insert(source) {
            ExtractMode::Snapshot
        } else {
            // A second export of the same source in the same period: a
            // snapshot would replace the first.
            ExtractMode::Delta
        };
        let mapping = agent::mapping(&w.mapping)?;
        let opts = agent::read_options(Some(period), false, false);
        let out = push::read_export_checked(&w.csv, &mapping, &linkage_key, &opts, None, false)?;
        for r in &out.records {
            if r.tokens.is_empty() {
                continue;
            }
            let person = Token::from_slice(&r.source_ref).and_then(|t| truth.person(source, &t));
            let mut pseudonyms: Vec<Token> = r
                .tokens
                .iter()
                .filter_map(|t| Token::from_slice(&t.token))
                .map(|t| broker_key.pseudonymise(linkage_key.id(), &t))
                .collect();
            pseudonyms.sort();
            sent.push(Sent {
                source,
                pseudonyms,
                person,
            });
        }
        let extract_id = ExtractId::parse(&format!("demo-{}", w.data_set.name()))
            .map_err(|why| anyhow::anyhow!("the demo's extract id {why}"))?;
        let mut header = push::header(&extract_id, source, &period, mode, linkage_key.id());
        // The snapshot's scope: this data set of the source, not the other.
        header.data_set = w.data_set.name().to_owned();
        let rows = out.rows;
        let extract = Extract::new(header, out.records, vec![], 5000);
        let client = client_tls(&layout, &user)?;
        let answer = runtime.block_on(push::deliver(
            &broker_url,
            &client,
            extract,
            &ProgressBar::hidden(),
        ))?;
        let response = answer.map_err(|status| push::refusal(&status, &[], &w.csv))?;
        if !concord_client::is_duplicate(&response) {
            committed += 1;
        }
        let receipt = response.get_ref();
        println!(
            "  {:<26} {:<19} as {:<27} {:>6} rows → {:>6} stored ({})",
            w.data_set.name(),
            source.as_str(),
            user,
            rows,
            receipt.records_stored,
            mode.as_str()
        );
        if !out.rejection_counts.is_empty() {
            println!("      {}", agent::rejections_line(&out.rejection_counts));
        }
    }

    let summary = runtime.block_on(summarise(&running, committed))?;
    println!(
        "linked by the broker ({} linkage run(s), one per committed extract):",
        committed
    );
    let per_source: Vec<String> = summary
        .per_source
        .iter()
        .map(|(s, n)| format!("{s} {n}"))
        .collect();
    println!("  records per source:   {}", per_source.join(", "));
    println!(
        "  people:               {} (from {} records with match-key tokens)",
        summary.people, summary.tokenised
    );
    println!("  known to 2+ sources:  {} people", summary.multi_source);
    println!("  pending reviews:      {}", summary.pending_reviews);
    if summary.unlinked > 0 {
        println!(
            "  not linked:           {} records (a linkage run failed: see the log)",
            summary.unlinked
        );
    }

    // Quality: the broker's people against the synthetic truth.
    let mut by_pseudonyms: HashMap<(Source, &[Token]), Option<u64>> = HashMap::new();
    for s in &sent {
        by_pseudonyms
            .entry((s.source, s.pseudonyms.as_slice()))
            .and_modify(|p| {
                if *p != s.person {
                    *p = None;
                }
            })
            .or_insert(s.person);
    }
    let mut judged = Vec::new();
    let mut left_out = 0u64;
    for (record, source, pseudonyms, person) in &summary.rows {
        match by_pseudonyms.get(&(*source, pseudonyms.as_slice())) {
            Some(Some(truth)) if person.is_some() => judged.push(Judged {
                record: *record,
                source: *source,
                cluster: person.unwrap_or_default(),
                person: *truth,
            }),
            _ => left_out += 1,
        }
    }
    if judged.is_empty() {
        println!("linkage quality: not measured (no stored record was recognised)");
    } else {
        println!(
            "linkage quality against the synthetic truth ({} records{}):",
            judged.len(),
            match left_out {
                0 => String::new(),
                n => format!("; {n} left out: same pseudonyms as another person's record"),
            }
        );
        print!("{}", quality::measure(&judged).render());
    }

    // 7. Lookups: a MASH officer's, allowed, and one the policy refuses.
    lookups(&runtime, &broker_url, &layout, &linkage_key, &pop)?;

    // 8. The board: the report for the last month, and the web dashboard.
    board(
        &runtime,
        &running,
        &broker_url,
        &layout,
        dir,
        &format!("{}", cfg.period_end.format("%Y-%m")),
        &server_pems,
        args.serve,
    )?;

    let _ = running.stop.send(());
    runtime
        .block_on(running.task)
        .context("the demo broker stopped abnormally")?
        .context("the demo broker stopped with an error")?;
    runtime.block_on(running.store.close());
    println!(
        "done: the broker has stopped. The exports and mappings are in {} (try `concord push \
         --csv` and `concord tokenise` on them); `concord demo --dir {}` again starts from an \
         empty database.",
        synth_dir.display(),
        dir.display()
    );
    Ok(())
}

/// The development PKI in `dir`: reused if complete, created if absent.
fn pki(dir: &Path, partnership: &Path) -> anyhow::Result<(PkiLayout, bool)> {
    let layout = PkiLayout::at(dir);
    let missing = layout.missing();
    if missing.is_empty() {
        return Ok((layout, false));
    }
    if dir.exists() && fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
        bail!(
            "the PKI in {} is incomplete ({} missing): move the directory away to have a new \
             one created",
            dir.display(),
            missing[0].display()
        );
    }
    let (layout, _) = super::pki::create(
        dir,
        partnership,
        &[],
        "give --policy-dir, the directory of the policy bundle that holds data/partnership.json",
    )?;
    Ok((layout, true))
}

fn broker_key(path: &Path) -> anyhow::Result<BrokerKey> {
    let what = path.display().to_string();
    let text =
        fs::read_to_string(path).with_context(|| format!("cannot read the broker key {what}"))?;
    let file = KeyFile::parse(&text, &what)?;
    Ok(BrokerKey::from_file(&file, &what)?)
}

fn audit_signer(path: &Path) -> anyhow::Result<concord_audit::AuditSigner> {
    let what = path.display().to_string();
    let text = fs::read_to_string(path)
        .with_context(|| format!("cannot read the audit signing key {what}"))?;
    let file = KeyFile::parse(&text, &what)?;
    concord_audit::AuditSigner::from_key_file(&file)
        .with_context(|| format!("the audit signing key {what} is not usable"))
}

fn client_tls(layout: &PkiLayout, user: &str) -> anyhow::Result<ClientTls> {
    let read = |path: PathBuf| {
        fs::read(&path).with_context(|| {
            format!(
                "cannot read {} (the demo PKI has no certificate for {user}: move {} away to \
                 have a new one created)",
                path.display(),
                layout.clients_dir.display()
            )
        })
    };
    Ok(ClientTls {
        ca_pem: read(layout.ca_cert.clone())?,
        cert_pem: read(layout.client_cert(user))?,
        key_pem: read(layout.client_key(user))?,
        server_name: "localhost".to_owned(),
    })
}

/// Starts the broker as `concord serve` does, on 127.0.0.1 and a free port.
async fn start(
    database: &Path,
    policy: PolicyEngine,
    broker_key: BrokerKey,
    linkage_keys: LinkageKeyIds,
    audit_signer: concord_audit::AuditSigner,
    [ca_pem, cert_pem, key_pem]: &[Vec<u8>; 3],
) -> anyhow::Result<Running> {
    let tls = concord_server::tls::server_config(&TlsMaterial {
        ca_pem,
        cert_pem,
        key_pem,
        crl_pems: vec![],
    })
    .context("the demo PKI's server certificate is not usable")?;
    let url = format!("sqlite:{}", database.display());
    let store = Store::connect(&url, &StoreOptions::default())
        .await
        .with_context(|| format!("cannot create the demo database {}", database.display()))?;
    let linkage = concord_server::linkage::Linkage::start(
        store.clone(),
        concord_linkage::LinkConfig::default(),
    )
    .await
    .context("cannot start linkage")?;
    let audit = concord_server::audit::AuditLog::start(
        store.clone(),
        audit_signer,
        concord_server::audit::AuditConfig::default(),
    )
    .await
    .context("cannot start the audit log")?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot listen on 127.0.0.1")?;
    let addr = listener
        .local_addr()
        .context("cannot read the listening address")?;
    let broker = Arc::new(Broker::new(
        store.clone(),
        Arc::new(policy),
        Arc::new(broker_key),
        Limits::default(),
        linkage_keys,
        linkage,
        audit,
    ));
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(concord_server::serve(
        listener,
        tls,
        broker.clone(),
        async move {
            let _ = stopped.await;
        },
    ));
    Ok(Running {
        broker,
        store,
        addr,
        stop,
        task,
    })
}

/// What the broker holds once linkage has caught up.
struct Summary {
    per_source: Vec<(Source, u64)>,
    people: usize,
    tokenised: usize,
    multi_source: usize,
    pending_reviews: usize,
    unlinked: usize,
    /// (record id, source, sorted stored pseudonyms, person).
    rows: Vec<(u64, Source, Vec<Token>, Option<u64>)>,
}

async fn summarise(running: &Running, committed: u64) -> anyhow::Result<Summary> {
    let mut runs = running.broker.linkage.watch_runs();
    runs.wait_for(|n| *n >= committed)
        .await
        .context("the broker's linkage task stopped before it linked every extract")?;
    let store = &running.store;
    let mut per_source = Vec::new();
    for source in Source::ALL {
        let n = store
            .count_records(Some(*source))
            .await
            .context("cannot count the stored records")?;
        if n > 0 {
            per_source.push((*source, n));
        }
    }
    let link_rows = store
        .link_rows()
        .await
        .context("cannot read the stored linkage")?;
    let mut sources_of: HashMap<i64, HashSet<Source>> = HashMap::new();
    let mut unlinked = 0;
    let mut rows = Vec::with_capacity(link_rows.len());
    for r in &link_rows {
        match r.person_id {
            Some(p) => {
                sources_of.entry(p).or_default().insert(r.source);
            }
            None => unlinked += 1,
        }
        let mut pseudonyms: Vec<Token> = r
            .tokens
            .iter()
            .map(|(_, t): &(KeyName, Token)| *t)
            .collect();
        pseudonyms.sort();
        rows.push((
            r.record_id as u64,
            r.source,
            pseudonyms,
            r.person_id.map(|p| p as u64),
        ));
    }
    let pending_reviews = store
        .reviews(true)
        .await
        .context("cannot read the review queue")?
        .len();
    Ok(Summary {
        per_source,
        people: sources_of.len(),
        tokenised: link_rows.len(),
        multi_source: sources_of.values().filter(|s| s.len() > 1).count(),
        pending_reviews,
        unlinked,
        rows,
    })
}

/// The synthetic person known to the most agencies (not a twin), whom a
/// MASH officer would hold the true identifiers of.
fn person_to_look_up(pop: &concord_synth::Population) -> Option<(&concord_synth::Person, usize)> {
    let mut sources: HashMap<u64, HashSet<Source>> = HashMap::new();
    for t in &pop.truth {
        sources
            .entry(t.person)
            .or_default()
            .insert(t.data_set.source());
    }
    pop.people
        .iter()
        .filter(|p| p.twin_of.is_none())
        .filter_map(|p| sources.get(&p.id).map(|s| (p, s.len())))
        .filter(|(_, n)| *n >= 2)
        .max_by_key(|(p, n)| (*n, std::cmp::Reverse(p.id)))
}

/// One allowed lookup and one refused, as `mash-officer-1`, through the
/// code of `concord lookup` (identifiers tokenised here, the answer
/// rendered as the command prints it).
fn lookups(
    runtime: &tokio::runtime::Runtime,
    broker_url: &str,
    layout: &PkiLayout,
    linkage_key: &concord_keys::LinkageKey,
    pop: &concord_synth::Population,
) -> anyhow::Result<()> {
    use concord_proto::v1;

    use super::lookup;

    let Some((person, known_to)) = person_to_look_up(pop) else {
        println!("lookups: skipped (no synthetic person is known to two agencies)");
        return Ok(());
    };
    let dob = person.dob.to_string();
    let tokens = lookup::tokens_from_flags(
        &concord_matchkey::Identifiers {
            forename: Some(&person.forename),
            surname: Some(&person.surname),
            date_of_birth: Some(&dob),
            nhs_number: Some(&person.nhs_number),
            postcode: Some(&person.postcode),
            pnc_id: person.pnc_id.as_deref(),
        },
        linkage_key,
    )?;
    let user = "mash-officer-1";
    let tls = client_tls(layout, user)?;
    let ask = |purpose: &str, case_ref: &str| v1::FindPersonRequest {
        tokens: tokens.clone(),
        purpose: purpose.to_owned(),
        case_ref: case_ref.to_owned(),
        reason: String::new(),
    };
    let (purpose, case_ref) = ("safeguarding_children", "MASH-2026-0042");
    println!(
        "lookup by {user} (MASH officer, rbkc-childrens) of a synthetic person known to \
         {known_to} agencies, from their identifiers (tokenised here):"
    );
    match runtime.block_on(lookup::find(broker_url, &tls, ask(purpose, case_ref)))? {
        Ok(answer) => {
            for line in lookup::render(&answer, purpose, case_ref).lines() {
                if line.is_empty() {
                    println!();
                } else {
                    println!("  {line}");
                }
            }
        }
        Err(status) => println!(
            "  refused ({:?}): {} (the policy bundle given does not allow it)",
            status.code(),
            status.message()
        ),
    }
    let (purpose, case_ref) = ("serious_violence_analysis", "MASH-2026-0042");
    println!("the same lookup by {user} for {purpose}:");
    match runtime.block_on(lookup::find(broker_url, &tls, ask(purpose, case_ref)))? {
        Err(status) => println!(
            "  refused ({:?}): {}; recorded in the audit log, nothing read",
            status.code(),
            status.message()
        ),
        Ok(_) => bail!(
            "the policy bundle allowed a person lookup for {purpose}, which is aggregate only: \
             fix the lookup policy"
        ),
    }
    Ok(())
}

/// Step 8: the board's report for `period` written to `DIR/board.html`
/// (fetched as `board-member-1` through `concord report`'s code), and the
/// web dashboard started beside the broker. With `serve`, a one-time
/// sign-in link is printed and everything keeps running until Ctrl-C.
#[allow(clippy::too_many_arguments)]
fn board(
    runtime: &tokio::runtime::Runtime,
    running: &Running,
    broker_url: &str,
    layout: &PkiLayout,
    dir: &Path,
    period: &str,
    [_, cert_pem, key_pem]: &[Vec<u8>; 3],
    serve: bool,
) -> anyhow::Result<()> {
    use super::{dashboard_link, report};

    let user = "board-member-1";
    let tls = client_tls(layout, user)?;
    let web_tls = concord_server::web::server_config(cert_pem, key_pem)
        .context("the demo PKI's server certificate is not usable for the web dashboard")?;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .context("cannot listen on 127.0.0.1 for the web dashboard")?;
    let addr = listener
        .local_addr()
        .context("cannot read the dashboard's address")?;
    let (stop, stopped) = oneshot::channel::<()>();
    let web = runtime.spawn(concord_server::web::serve(
        listener,
        web_tls,
        running.broker.clone(),
        concord_server::web::WebOptions::default(),
        async move {
            let _ = stopped.await;
        },
    ));

    let wire = runtime.block_on(report::fetch(broker_url, &tls, period))?;
    let dashboard = report::dashboard_from_wire(wire)?;
    let html = concord_report::report(
        &dashboard,
        &concord_report::PageContext {
            viewer: None,
            generated_at: chrono::Utc::now(),
        },
    );
    let file = dir.join("board.html");
    report::write_atomically(&file, html.as_bytes())?;
    let suppressed: usize = dashboard
        .panels
        .iter()
        .map(|p| p.table.suppressed_cells())
        .sum();
    println!(
        "the board (as {user}, through the aggregate policy; small counts suppressed, the rest \
         rounded):"
    );
    println!(
        "  report:     {} ({}: {} panels, {} suppressed cells; self-contained, open it in a \
         browser)",
        file.display(),
        dashboard.period_label,
        dashboard.panels.len(),
        suppressed
    );
    let base = concord_server::web::default_public_url(addr);
    if serve {
        let link = runtime.block_on(dashboard_link::request(broker_url, &tls, period))?;
        println!("  dashboard:  {base}/dashboard");
        println!(
            "  sign in:    {} (one use, within {} minutes; the browser must trust {} or accept \
             the development certificate)",
            link.url,
            link.expires_in_seconds / 60,
            layout.ca_cert.display()
        );
        println!(
            "  more links: concord dashboard-link --broker {broker_url} --pki {} --user {user}",
            layout.ca_cert.parent().unwrap_or(dir).display()
        );
        println!("the broker and the dashboard keep running: press Ctrl-C to stop");
        runtime
            .block_on(tokio::signal::ctrl_c())
            .context("cannot wait for Ctrl-C")?;
    } else {
        // The broker stops with the demo: an address printed now would
        // point at nothing by the time anyone opened it.
        println!(
            "  dashboard:  stops with the demo; `concord demo --serve` keeps the broker and its \
             dashboard running and prints the address and a sign-in link"
        );
    }
    let _ = stop.send(());
    runtime
        .block_on(web)
        .context("the demo's web dashboard stopped abnormally")?
        .context("the demo's web dashboard stopped with an error")?;
    Ok(())
}
