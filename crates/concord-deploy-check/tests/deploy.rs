//! Structural checks of `deploy/`: each test reads the real files and can
//! fail on a regression in them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use concord_deploy_check::{
    Document, Value, deploy_dir, read, repo_root, toml_leaf_keys, unit_values, yaml_documents,
};
use serde::Deserialize;

fn k8s() -> Vec<Document> {
    yaml_documents(&deploy_dir().join("k8s")).unwrap_or_else(|e| panic!("{e}"))
}

fn one<'a>(docs: &'a [Document], kind: &str) -> &'a Document {
    let found: Vec<&Document> = docs.iter().filter(|d| d.kind() == kind).collect();
    assert_eq!(
        found.len(),
        1,
        "expected exactly one {kind}, found {}",
        found.len()
    );
    found[0]
}

fn path<'a>(value: &'a Value, keys: &[&str]) -> &'a Value {
    let mut v = value;
    for key in keys {
        v = v
            .get(*key)
            .unwrap_or_else(|| panic!("missing `{}` (at `{key}`)", keys.join(".")));
    }
    v
}

fn labels(value: &Value) -> BTreeMap<String, String> {
    value
        .as_mapping()
        .expect("labels are a mapping")
        .iter()
        .map(|(k, v)| {
            let k = k.as_str().expect("label key is a string").to_owned();
            let v = v.as_str().expect("label value is a string").to_owned();
            (k, v)
        })
        .collect()
}

/// The Deployment's pod template labels.
fn pod_labels(docs: &[Document]) -> BTreeMap<String, String> {
    let deployment = one(docs, "Deployment");
    labels(path(
        &deployment.value,
        &["spec", "template", "metadata", "labels"],
    ))
}

/// True if every label of `selector` is on the pods, and it selects something.
fn selects(selector: &BTreeMap<String, String>, pods: &BTreeMap<String, String>) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| pods.get(k) == Some(v))
}

fn the_container(docs: &[Document]) -> &Value {
    let deployment = one(docs, "Deployment");
    let containers = path(
        &deployment.value,
        &["spec", "template", "spec", "containers"],
    )
    .as_sequence()
    .expect("containers is a list");
    assert_eq!(containers.len(), 1, "one container: the broker");
    &containers[0]
}

fn as_port(v: &Value) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| panic!("port {v:?} must be a number"))
}

#[test]
fn every_k8s_document_parses_and_every_kind_is_present() {
    let docs = k8s();
    assert!(!docs.is_empty());
    for doc in &docs {
        assert!(
            !doc.kind().is_empty(),
            "{}: a document without kind",
            doc.file.display()
        );
        assert!(
            doc.value
                .get("apiVersion")
                .and_then(Value::as_str)
                .is_some(),
            "{}: {} without apiVersion",
            doc.file.display(),
            doc.kind()
        );
        assert!(
            !doc.name().is_empty(),
            "{}: {} without metadata.name",
            doc.file.display(),
            doc.kind()
        );
    }
    for kind in [
        "Deployment",
        "Service",
        "Secret",
        "ConfigMap",
        "PodDisruptionBudget",
        "NetworkPolicy",
    ] {
        assert!(
            docs.iter().any(|d| d.kind() == kind),
            "no {kind} under deploy/k8s"
        );
    }
    // The external PostgreSQL is named by an ExternalName Service.
    assert!(
        docs.iter().any(|d| d.kind() == "Service"
            && d.value
                .get("spec")
                .and_then(|s| s.get("type"))
                .and_then(Value::as_str)
                == Some("ExternalName")),
        "no ExternalName Service for PostgreSQL"
    );
}

#[test]
fn the_deployment_is_replicated_hardened_and_probed() {
    let docs = k8s();
    let deployment = one(&docs, "Deployment");
    let replicas = path(&deployment.value, &["spec", "replicas"])
        .as_u64()
        .unwrap();
    assert!(replicas >= 2, "replicas = {replicas}");

    let pod_spec = path(&deployment.value, &["spec", "template", "spec"]);
    let pod_security = path(pod_spec, &["securityContext"]);
    let container = the_container(&docs);
    let security = path(container, &["securityContext"]);
    assert_eq!(
        path(pod_security, &["runAsNonRoot"]).as_bool(),
        Some(true),
        "pod runAsNonRoot"
    );
    assert_eq!(
        path(security, &["runAsNonRoot"]).as_bool(),
        Some(true),
        "container runAsNonRoot"
    );
    for uid in [pod_security.get("runAsUser"), security.get("runAsUser")]
        .into_iter()
        .flatten()
    {
        assert_ne!(uid.as_u64(), Some(0), "runAsUser 0");
    }
    assert_eq!(
        path(security, &["readOnlyRootFilesystem"]).as_bool(),
        Some(true)
    );
    assert_eq!(
        path(security, &["allowPrivilegeEscalation"]).as_bool(),
        Some(false)
    );

    // gRPC health probes on the metrics port, the one port that answers
    // grpc.health.v1 without a client certificate. Readiness asks for the
    // overall status (which, like every Concord service's, follows the
    // database); liveness and start-up for the health service's own name
    // (which does not), so an outage never restarts pods.
    for (probe, service) in [
        ("startupProbe", Some("grpc.health.v1.Health")),
        ("livenessProbe", Some("grpc.health.v1.Health")),
        ("readinessProbe", None),
    ] {
        let grpc = path(container, &[probe, "grpc"]);
        assert_eq!(as_port(path(grpc, &["port"])), 9464, "{probe} port");
        assert_eq!(
            grpc.get("service").and_then(Value::as_str),
            service,
            "{probe} service"
        );
    }

    let ports = path(container, &["ports"]).as_sequence().unwrap();
    let mut container_ports: Vec<u64> = ports
        .iter()
        .map(|p| as_port(path(p, &["containerPort"])))
        .collect();
    container_ports.sort_unstable();
    assert_eq!(
        container_ports, BROKER_PORTS,
        "containerPorts: gRPC 7443, dashboard 7444, metrics 9464"
    );

    let limits = path(container, &["resources", "limits"]);
    assert!(
        limits.get("cpu").is_some() && limits.get("memory").is_some(),
        "resource limits"
    );
    let requests = path(container, &["resources", "requests"]);
    assert!(
        requests.get("cpu").is_some() && requests.get("memory").is_some(),
        "resource requests"
    );

    // In-flight extracts (limits.max_stream_duration) may finish on SIGTERM.
    let grace = path(pod_spec, &["terminationGracePeriodSeconds"])
        .as_u64()
        .unwrap();
    assert!(
        grace
            >= production_config()
                .limits
                .max_stream_duration
                .unwrap_or(900)
    );

    // The selector picks the template's pods.
    let selector = labels(path(
        &deployment.value,
        &["spec", "selector", "matchLabels"],
    ));
    assert!(selects(&selector, &pod_labels(&docs)));
}

#[test]
fn the_pdb_and_the_service_select_the_broker_pods() {
    let docs = k8s();
    let pods = pod_labels(&docs);
    let pdb = one(&docs, "PodDisruptionBudget");
    let selector = labels(path(&pdb.value, &["spec", "selector", "matchLabels"]));
    assert!(
        selects(&selector, &pods),
        "PDB selector {selector:?} vs pods {pods:?}"
    );
    let spec = path(&pdb.value, &["spec"]);
    assert!(spec.get("minAvailable").is_some() || spec.get("maxUnavailable").is_some());

    let broker_services: Vec<&Document> = docs
        .iter()
        .filter(|d| d.kind() == "Service")
        .filter(|d| {
            d.value
                .get("spec")
                .and_then(|s| s.get("selector"))
                .is_some()
        })
        .collect();
    assert_eq!(
        broker_services.len(),
        1,
        "one Service with a selector: the broker's"
    );
    let service = broker_services[0];
    let selector = labels(path(&service.value, &["spec", "selector"]));
    // Sign-in links and sessions are per replica (docs/decisions/0009-scale-out.md).
    assert_eq!(
        path(&service.value, &["spec", "sessionAffinity"]).as_str(),
        Some("ClientIP"),
        "the broker Service keeps a client on one replica"
    );
    assert!(
        as_port(path(
            &service.value,
            &[
                "spec",
                "sessionAffinityConfig",
                "clientIP",
                "timeoutSeconds"
            ]
        )) >= 8 * 3600,
        "affinity outlasts a dashboard session (8 hours)"
    );
    assert!(
        selects(&selector, &pods),
        "Service selector {selector:?} vs pods {pods:?}"
    );
    let ports = path(&service.value, &["spec", "ports"])
        .as_sequence()
        .unwrap();
    assert!(!ports.is_empty());
    let mut targets: Vec<u64> = ports
        .iter()
        .map(|port| {
            as_port(
                port.get("targetPort")
                    .unwrap_or_else(|| path(port, &["port"])),
            )
        })
        .collect();
    targets.sort_unstable();
    assert_eq!(
        targets, BROKER_PORTS,
        "the Service targets 7443, 7444 and 9464 only"
    );
}

/// The broker's ports: gRPC over mTLS (`listen`), the web dashboard
/// (`web_listen`) and Prometheus metrics (`metrics_listen`).
const BROKER_PORTS: [u64; 3] = [7443, 7444, 9464];

#[test]
fn the_network_policy_allows_only_the_broker_ports_in_and_postgres_and_dns_out() {
    let docs = k8s();
    let policy = one(&docs, "NetworkPolicy");
    let spec = path(&policy.value, &["spec"]);
    let selector = labels(path(spec, &["podSelector", "matchLabels"]));
    assert!(
        selects(&selector, &pod_labels(&docs)),
        "NetworkPolicy selects the broker"
    );
    let types: Vec<&str> = path(spec, &["policyTypes"])
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        types.contains(&"Ingress") && types.contains(&"Egress"),
        "{types:?}"
    );

    let ingress = path(spec, &["ingress"]).as_sequence().unwrap();
    assert!(!ingress.is_empty());
    let mut opened = Vec::new();
    for rule in ingress {
        // A rule without `from` (or `ports`) allows every source (or port).
        let from = path(rule, &["from"]).as_sequence().unwrap();
        assert!(!from.is_empty(), "ingress rule from everywhere");
        for peer in from {
            assert!(
                peer.get("namespaceSelector").is_some() || peer.get("podSelector").is_some(),
                "ingress peer must be selected by labels: {peer:?}"
            );
        }
        let ports = path(rule, &["ports"]).as_sequence().unwrap();
        assert!(!ports.is_empty(), "ingress rule on every port");
        for port in ports {
            let port = as_port(path(port, &["port"]));
            assert!(BROKER_PORTS.contains(&port), "ingress on {port}");
            opened.push(port);
            // Metrics are plain HTTP: only the monitoring namespace, never
            // in a rule that also admits agencies or the gateway.
            let monitoring_only = from.iter().all(|peer| {
                peer.get("namespaceSelector")
                    .and_then(|n| n.get("matchLabels"))
                    .map(labels)
                    .is_some_and(|l| {
                        l.get("concord.example/role").map(String::as_str) == Some("monitoring")
                    })
            });
            assert_eq!(
                port == 9464,
                monitoring_only,
                "9464 (and only 9464) is opened to the monitoring namespace alone"
            );
        }
    }
    opened.sort_unstable();
    opened.dedup();
    assert_eq!(opened, BROKER_PORTS, "ingress opens each broker port");

    let egress = path(spec, &["egress"]).as_sequence().unwrap();
    let mut egress_ports = Vec::new();
    for rule in egress {
        let ports = path(rule, &["ports"]).as_sequence().unwrap();
        assert!(!ports.is_empty(), "egress rule on every port");
        assert!(
            !path(rule, &["to"]).as_sequence().unwrap().is_empty(),
            "egress rule to everywhere"
        );
        egress_ports.extend(ports.iter().map(|p| as_port(path(p, &["port"]))));
    }
    assert!(egress_ports.contains(&5432), "egress to PostgreSQL");
    assert!(
        egress_ports.iter().all(|p| *p == 5432 || *p == 53),
        "egress only to PostgreSQL and DNS: {egress_ports:?}"
    );
}

#[test]
fn secrets_hold_placeholders_never_keys() {
    let docs = k8s();
    let secrets: Vec<&Document> = docs.iter().filter(|d| d.kind() == "Secret").collect();
    assert!(secrets.len() >= 2, "PKI and database Secrets");
    for secret in &secrets {
        assert!(
            secret.value.get("data").is_none(),
            "{}: base64 `data` cannot be reviewed; use stringData placeholders",
            secret.name()
        );
        let data = path(&secret.value, &["stringData"]).as_mapping().unwrap();
        assert!(!data.is_empty());
        for (key, value) in data {
            let text = value.as_str().unwrap();
            assert!(
                text.contains("REPLACE_ME"),
                "{}/{key:?} is not a placeholder",
                secret.name()
            );
            for marker in ["PRIVATE KEY", "pkcs8_hex", "-----BEGIN"] {
                assert!(
                    !text.contains(marker),
                    "{}/{key:?} holds {marker}",
                    secret.name()
                );
            }
        }
    }
    // And nowhere under deploy/ (besides the example tokens) is a key.
    for file in walk(&deploy_dir()) {
        if file.ends_with("police-2026-10.tokens.csv") {
            continue;
        }
        let text = read(&file);
        for marker in [
            "BEGIN PRIVATE KEY",
            "BEGIN EC PRIVATE KEY",
            "BEGIN RSA PRIVATE KEY",
            "BEGIN ENCRYPTED PRIVATE KEY",
        ] {
            assert!(!text.contains(marker), "{} holds {marker}", file.display());
        }
    }
    // The PKI Secrets cover what the configuration names.
    let names: Vec<&str> = secrets.iter().map(|s| s.name()).collect();
    for name in ["concord-tls", "concord-broker-key", "concord-database"] {
        assert!(names.contains(&name), "Secret {name} missing: {names:?}");
    }
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn the_dockerfile_is_multi_stage_and_non_root() {
    let text = read(&deploy_dir().join("Dockerfile"));
    let instructions: Vec<(String, &str)> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let (op, rest) = l.split_once(char::is_whitespace)?;
            Some((op.to_ascii_uppercase(), rest.trim()))
        })
        .collect();
    let of = |op: &str| -> Vec<&str> {
        instructions
            .iter()
            .filter(|(o, _)| o == op)
            .map(|(_, r)| *r)
            .collect()
    };
    assert!(of("FROM").len() >= 2, "multi-stage: {:?}", of("FROM"));
    assert!(text.contains("cargo build --release -p concord --locked"));

    let user = *of("USER").last().expect("a USER instruction");
    let uid = user.split(':').next().unwrap();
    assert!(
        uid.parse::<u32>().is_ok_and(|n| n != 0),
        "USER must be a numeric non-root uid, got {user:?}"
    );
    for port in BROKER_PORTS {
        assert!(
            of("EXPOSE")
                .iter()
                .any(|e| e.split_whitespace().any(|p| p == port.to_string())),
            "EXPOSE {port}"
        );
    }
    assert!(
        !of("HEALTHCHECK").is_empty(),
        "a HEALTHCHECK instruction (or NONE) with the note"
    );
    let entrypoint = *of("ENTRYPOINT").last().expect("an ENTRYPOINT");
    for part in ["concord", "\"serve\"", "\"--config\""] {
        assert!(
            entrypoint.contains(part),
            "ENTRYPOINT {entrypoint} lacks {part}"
        );
    }
    // The runtime stage copies only from the builder: no source tree.
    let last_from = text.rfind("\nFROM ").unwrap();
    for copy in text[last_from..].lines().filter(|l| l.starts_with("COPY")) {
        assert!(
            copy.contains("--from=builder"),
            "runtime copies from the build context: {copy}"
        );
    }
}

#[test]
fn the_systemd_unit_is_hardened() {
    let unit = read(&deploy_dir().join("systemd/concord.service"));
    let expect = |directive: &str, value: &str| {
        let values = unit_values(&unit, directive);
        assert!(
            values.contains(&value),
            "{directive}={value} missing (found {values:?})"
        );
    };
    expect(
        "ExecStart",
        "/usr/local/bin/concord serve --config /etc/concord/concord.toml",
    );
    expect("Restart", "on-failure");
    expect("NoNewPrivileges", "yes");
    expect("ProtectSystem", "strict");
    expect("ProtectHome", "yes");
    expect("PrivateTmp", "yes");
    expect("CapabilityBoundingSet", "");
    expect("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX");
    expect("SystemCallFilter", "@system-service");
    expect("MemoryDenyWriteExecute", "yes");
    expect("LockPersonality", "yes");
    expect("KillSignal", "SIGTERM");
    assert!(
        unit_values(&unit, "DynamicUser") == ["yes"]
            || unit_values(&unit, "User")
                .iter()
                .any(|u| !u.is_empty() && *u != "root" && *u != "0"),
        "DynamicUser=yes or a dedicated non-root User"
    );
    assert!(
        unit_values(&unit, "ReadWritePaths")
            .iter()
            .any(|p| p.contains("/var/lib/concord")),
        "ReadWritePaths for the data dir"
    );
    let stop = unit_values(&unit, "TimeoutStopSec");
    let stop: u64 = stop
        .last()
        .expect("TimeoutStopSec")
        .trim_end_matches('s')
        .parse()
        .expect("TimeoutStopSec in seconds");
    assert!(stop >= 900, "TimeoutStopSec={stop} < max_stream_duration");
}

/// The documented configuration keys, refusing any other.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct ConfigFile {
    listen: Option<String>,
    web_listen: Option<String>,
    metrics_listen: Option<String>,
    data_dir: Option<String>,
    database_url: Option<String>,
    policy_dir: Option<String>,
    linkage_key_id: Option<String>,
    previous_linkage_key_id: Option<String>,
    pki: Option<Pki>,
    #[serde(default)]
    limits: Limits,
    log: Option<Log>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Pki {
    ca_cert: String,
    server_cert: String,
    server_key: String,
    broker_key: String,
    audit_key: String,
    #[serde(default)]
    crl_files: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Limits {
    max_message_bytes: Option<u64>,
    max_batch_records: Option<u64>,
    max_extract_records: Option<u64>,
    max_stream_duration: Option<u64>,
    handshake_timeout: Option<u64>,
    max_reported_violations: Option<u64>,
    write_chunk_records: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Log {
    format: Option<String>,
    level: Option<String>,
}

/// The Secret mounted at `dir` in the broker's container, if any.
fn secret_mounted_at(docs: &[Document], dir: &str) -> Option<String> {
    let mounts = path(the_container(docs), &["volumeMounts"]).as_sequence()?;
    let volume = mounts
        .iter()
        .find(|m| m.get("mountPath").and_then(Value::as_str) == Some(dir))?
        .get("name")?
        .as_str()?;
    let deployment = one(docs, "Deployment");
    path(&deployment.value, &["spec", "template", "spec", "volumes"])
        .as_sequence()?
        .iter()
        .find(|v| v.get("name").and_then(Value::as_str) == Some(volume))?
        .get("secret")?
        .get("secretName")?
        .as_str()
        .map(str::to_owned)
}

fn production_text() -> String {
    read(&deploy_dir().join("concord.production.toml"))
}

fn production_config() -> ConfigFile {
    toml::from_str(&production_text()).unwrap_or_else(|e| panic!("concord.production.toml: {e}"))
}

#[test]
fn the_production_config_uses_only_known_keys() {
    let config = production_config();
    let table: toml::Table = toml::from_str(&production_text()).unwrap();
    let source = read(&repo_root().join("crates/concord/src/config.rs"));
    let keys = toml_leaf_keys(&table);
    assert!(keys.len() >= 5, "{keys:?}");
    for key in &keys {
        // Every key is one the loader names (`"listen"`, `"pki.ca_cert"` in ENV_KEYS).
        assert!(
            source.contains(&format!("\"{key}\"")),
            "{key} is not a key known to crates/concord/src/config.rs"
        );
    }

    let url = config.database_url.as_deref().expect("database_url");
    assert!(
        url.starts_with("postgres://"),
        "production uses PostgreSQL: {url}"
    );
    let authority = url["postgres://".len()..].split('/').next().unwrap();
    if let Some((userinfo, _)) = authority.rsplit_once('@') {
        assert!(
            !userinfo.contains(':'),
            "no password in the file; use CONCORD_DATABASE_URL"
        );
    }

    // A [pki] table needs the partnership's linkage key id.
    let linkage_key_id = config.linkage_key_id.as_deref().expect("linkage_key_id");
    assert!(
        linkage_key_id.starts_with("lk-"),
        "a linkage key id such as lk-2026a: {linkage_key_id}"
    );
    let pki = config
        .pki
        .expect("a [pki] table: production never uses the development PKI");
    let mut paths = vec![
        &pki.ca_cert,
        &pki.server_cert,
        &pki.server_key,
        &pki.broker_key,
        &pki.audit_key,
    ];
    paths.extend(pki.crl_files.iter());
    let docs = k8s();
    for p in &paths {
        let (dir, file) = p.rsplit_once('/').expect("an absolute path");
        let secret = secret_mounted_at(&docs, dir)
            .unwrap_or_else(|| panic!("no Secret is mounted at {dir} (for {p})"));
        let held = docs
            .iter()
            .find(|d| d.kind() == "Secret" && d.name() == secret)
            .and_then(|d| d.value.get("stringData"))
            .and_then(|data| data.get(file))
            .is_some();
        assert!(
            held,
            "Secret {secret} (mounted at {dir}) has no key {file}, which [pki] reads"
        );
    }
    for p in &paths {
        assert!(
            p.starts_with("/etc/concord/pki/"),
            "{p} outside /etc/concord/pki"
        );
    }
    assert!(!pki.crl_files.is_empty(), "a CRL is configured");
    assert_eq!(config.log.and_then(|l| l.format).as_deref(), Some("json"));

    // The three listeners are the container's three ports.
    let port_of = |addr: &Option<String>, key: &str| -> u64 {
        let addr = addr.as_deref().unwrap_or_else(|| panic!("{key} is set"));
        let (_, port) = addr.rsplit_once(':').expect("host:port");
        port.parse().unwrap_or_else(|_| panic!("{key} port"))
    };
    assert_eq!(
        [
            port_of(&config.listen, "listen"),
            port_of(&config.web_listen, "web_listen"),
            port_of(&config.metrics_listen, "metrics_listen"),
        ],
        BROKER_PORTS
    );

    // Every PKI file is mounted into the broker's container.
    let docs = k8s();
    let mounts: Vec<String> = path(the_container(&docs), &["volumeMounts"])
        .as_sequence()
        .unwrap()
        .iter()
        .map(|m| path(m, &["mountPath"]).as_str().unwrap().to_owned())
        .collect();
    for p in &paths {
        assert!(
            mounts.iter().any(|m| p.starts_with(&format!("{m}/"))),
            "{p} is not under any volumeMount {mounts:?}"
        );
    }
    assert!(mounts.iter().any(|m| m == "/etc/concord/concord.toml"));
}

#[test]
fn the_configmap_carries_the_production_config() {
    let docs = k8s();
    let configmap = one(&docs, "ConfigMap");
    let embedded = path(&configmap.value, &["data", "concord.toml"])
        .as_str()
        .expect("concord.toml is a string");
    let embedded: toml::Table = toml::from_str(embedded).expect("the ConfigMap's TOML parses");
    let file: toml::Table = toml::from_str(&production_text()).unwrap();
    assert_eq!(
        embedded, file,
        "ConfigMap and deploy/concord.production.toml differ"
    );

    // The database URL with its password reaches the broker from a Secret.
    let env = path(the_container(&docs), &["env"]).as_sequence().unwrap();
    let url = env
        .iter()
        .find(|e| e.get("name").and_then(Value::as_str) == Some("CONCORD_DATABASE_URL"))
        .expect("CONCORD_DATABASE_URL in the container's env");
    assert!(
        url.get("value").is_none(),
        "CONCORD_DATABASE_URL must not be inline"
    );
    let secret = path(url, &["valueFrom", "secretKeyRef", "name"])
        .as_str()
        .unwrap();
    assert!(
        docs.iter()
            .any(|d| d.kind() == "Secret" && d.name() == secret),
        "Secret {secret} not defined"
    );
}
