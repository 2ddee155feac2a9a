//! `concord pki init`: a development partnership PKI; `concord pki revoke`:
//! revoke a user's client certificate in its CRL.

use std::path::{Path, PathBuf};

use anyhow::Context;
use concord_pki::{Partnership, PkiLayout};

/// Work with the partnership PKI.
#[derive(Debug, clap::Subcommand)]
pub enum PkiCommand {
    /// Create a development PKI (CA, server and client certificates, broker, linkage and audit keys) in a new directory
    Init(InitArgs),
    /// Revoke a user's client certificate: add it to DIR/crl.pem (created if absent, earlier entries kept, CRL number bumped), signed with DIR/ca.key
    Revoke(RevokeArgs),
}

#[derive(Debug, clap::Args)]
pub struct RevokeArgs {
    /// The PKI directory (`pki init --dir`, or the broker's <data_dir>/pki); needs ca.pem, ca.key and clients/<user>.pem
    #[arg(long, value_name = "DIR")]
    pub pki: PathBuf,
    /// The user whose client certificate is revoked (CN of the certificate, as in the partnership file)
    #[arg(long, value_name = "USER")]
    pub user: String,
}

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Directory to create the PKI in; must not hold one already
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Partnership file naming the organisations and the users who get client certificates
    #[arg(
        long,
        value_name = "FILE",
        default_value = "policies/data/partnership.json"
    )]
    pub partnership: PathBuf,
    /// Extra host name or IP address for the server certificate (localhost, 127.0.0.1 and ::1 are always included); repeatable
    #[arg(long = "host", value_name = "NAME")]
    pub hosts: Vec<String>,
}

pub fn run(command: PkiCommand) -> anyhow::Result<()> {
    match command {
        PkiCommand::Init(args) => init(&args),
        PkiCommand::Revoke(args) => revoke(&args),
    }
}

fn revoke(args: &RevokeArgs) -> anyhow::Result<()> {
    let outcome = concord_pki::revoke(&args.pki, &args.user).with_context(|| {
        format!(
            "cannot revoke a certificate in the PKI {} (give the PKI directory with --pki DIR)",
            args.pki.display()
        )
    })?;
    let crl = outcome.crl_file.display();
    if outcome.already_revoked {
        println!(
            "the client certificate of {} (serial {}) is already revoked in {crl} (CRL number {}); \
             nothing changed",
            outcome.identity, outcome.serial_hex, outcome.crl.number
        );
    } else {
        println!(
            "revoked the client certificate of {} (serial {}) in {crl}: CRL number {}, {} \
             certificate(s) revoked",
            outcome.identity,
            outcome.serial_hex,
            outcome.crl.number,
            outcome.crl.revoked.len()
        );
    }
    println!("next:");
    println!(
        "  1. give the broker the CRL: with a [pki] table, list it in pki.crl_files \
         (crl_files = [\"{crl}\"], or CONCORD_PKI_CRL_FILES={crl}); in development mode \
         (no [pki] table) a broker whose data_dir/pki is this directory loads crl.pem itself"
    );
    println!(
        "  2. send the broker SIGHUP (kill -HUP, systemctl reload concord): it reads its TLS \
         files and CRLs again and refuses the certificate from then on, on new connections, \
         on the next request of connections already open, and in dashboard sessions signed in \
         with it; until then a running broker still accepts it (a new entry in pki.crl_files \
         needs a restart)"
    );
    println!(
        "  3. copy {crl} to every other broker of the partnership and send them SIGHUP too; \
         keep ca.key offline"
    );
    Ok(())
}

fn init(args: &InitArgs) -> anyhow::Result<()> {
    let (layout, partnership) = create(
        &args.dir,
        &args.partnership,
        &args.hosts,
        "give another with --partnership FILE",
    )?;
    println!(
        "created a development PKI for {} in {}",
        partnership.name,
        args.dir.display()
    );
    print_layout(&layout, &args.hosts);
    println!(
        "issued {} client certificate(s):",
        partnership.certificates.len()
    );
    for identity in &partnership.certificates {
        println!("  {identity}");
    }
    println!(
        "keep ca.key, server.key, clients/*.key and keys/ private (mode 0600); the broker needs \
         ca.pem, server.pem, server.key and keys/broker.json, never ca.key"
    );
    Ok(())
}

/// Loads the partnership file and creates the PKI; shared with `serve`'s
/// development mode and `demo`. `another` says how the caller's user names
/// another partnership file (each command has its own way).
pub fn create(
    dir: &Path,
    partnership_file: &Path,
    hosts: &[String],
    another: &str,
) -> anyhow::Result<(PkiLayout, Partnership)> {
    let partnership = Partnership::load(partnership_file).with_context(|| {
        format!(
            "cannot use the partnership file {} ({another})",
            partnership_file.display()
        )
    })?;
    let layout = concord_pki::init(dir, &partnership, hosts)
        .with_context(|| format!("cannot create a PKI in {}", dir.display()))?;
    Ok((layout, partnership))
}

fn print_layout(layout: &PkiLayout, hosts: &[String]) {
    let mut names = vec!["localhost", "127.0.0.1", "::1"];
    names.extend(hosts.iter().map(String::as_str));
    for (what, path) in [
        ("CA certificate", &layout.ca_cert),
        ("CA private key", &layout.ca_key),
        ("server certificate", &layout.server_cert),
        ("server private key", &layout.server_key),
        ("broker key", &layout.broker_key),
        ("linkage key", &layout.linkage_key),
        ("audit signing key", &layout.audit_key),
    ] {
        println!("  {what:<20} {}", path.display());
    }
    println!("  {:<20} {}", "server names", names.join(", "));
    println!(
        "  {:<20} {}/<user>.pem and <user>.key",
        "client certificates",
        layout.clients_dir.display()
    );
}
