//! `concord pki init`: a development partnership PKI.

use std::path::{Path, PathBuf};

use anyhow::Context;
use concord_pki::{Partnership, PkiLayout};

/// Work with the partnership PKI.
#[derive(Debug, clap::Subcommand)]
pub enum PkiCommand {
    /// Create a development PKI (CA, server and client certificates, broker, linkage and audit keys) in a new directory
    Init(InitArgs),
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
    }
}

fn init(args: &InitArgs) -> anyhow::Result<()> {
    let (layout, partnership) = create(&args.dir, &args.partnership, &args.hosts)?;
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
/// development mode.
pub fn create(
    dir: &Path,
    partnership_file: &Path,
    hosts: &[String],
) -> anyhow::Result<(PkiLayout, Partnership)> {
    let partnership = Partnership::load(partnership_file).with_context(|| {
        format!(
            "cannot use the partnership file {} (give another with --partnership FILE)",
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
