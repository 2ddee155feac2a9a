//! The harness shared by the binary's integration tests: run the built
//! `concord` in a temporary directory, start `concord serve` on port 0 and
//! learn its port from its `listening on` line (no sleeps).
#![allow(dead_code)]

use std::{
    io::{BufRead, BufReader, Read},
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    sync::{Arc, Mutex, mpsc},
    thread,
    time::Duration,
};

const BIN: &str = env!("CARGO_BIN_EXE_concord");

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The binary, run in `dir`, with no `CONCORD_*` variables of the caller's.
pub fn concord(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir).env_remove("RUST_LOG");
    for (name, _) in std::env::vars() {
        if name.starts_with("CONCORD_") {
            cmd.env_remove(name);
        }
    }
    cmd
}

pub fn run(cmd: &mut Command) -> (Output, String, String) {
    let out = cmd.output().expect("the binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stdout, stderr)
}

/// A running `concord serve`: stopped with SIGTERM by [`Broker::stop`], and
/// killed if a test fails first.
pub struct Broker {
    child: Option<Child>,
    pub port: u16,
    stderr: Arc<Mutex<String>>,
    /// Reads the broker's standard error to its end into `stderr`.
    stderr_reader: Option<thread::JoinHandle<()>>,
    /// What it printed before `listening on …`.
    pub startup: String,
}

impl Broker {
    pub fn start(dir: &Path) -> Broker {
        Self::start_with(dir, &[])
    }

    /// Starts `concord serve` with its data in `dir/data`, plus `extra` args.
    pub fn start_with(dir: &Path, extra: &[&str]) -> Broker {
        let mut child = concord(dir)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.join("data"))
            .arg("--policy-dir")
            .arg(repo().join("policies"))
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("concord serve starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().unwrap();
        let sink = stderr.clone();
        let stderr_reader = thread::spawn(move || {
            let mut buf = String::new();
            let _ = err.read_to_string(&mut buf);
            sink.lock().unwrap().push_str(&buf);
        });
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut seen = Vec::new();
        let port = loop {
            let Some(Ok(line)) = lines.next() else {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "concord serve ended before listening:\n{}\n{}",
                    seen.join("\n"),
                    stderr.lock().unwrap()
                );
            };
            if let Some(addr) = line.strip_prefix("listening on https://127.0.0.1:") {
                break addr.parse::<u16>().expect("a port");
            }
            seen.push(line);
        };
        let startup = seen.join("\n");
        // Keep draining stdout so the broker never blocks on it.
        thread::spawn(move || lines.for_each(drop));
        Broker {
            child: Some(child),
            port,
            stderr,
            stderr_reader: Some(stderr_reader),
            startup,
        }
    }

    /// SIGTERM, then wait (at most a minute) for a clean exit.
    pub fn stop(mut self) -> String {
        let mut child = self.child.take().unwrap();
        let pid = child.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success());
        let (tx, rx) = mpsc::channel();
        let waiter = thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        let Ok(exit) = rx.recv_timeout(Duration::from_secs(60)) else {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
            panic!("concord serve did not stop within a minute of SIGTERM");
        };
        waiter.join().unwrap();
        assert!(
            exit.unwrap().success(),
            "concord serve exited with an error"
        );
        // The log is complete only once its reader has seen the end.
        if let Some(reader) = self.stderr_reader.take() {
            reader.join().unwrap();
        }
        self.stderr.lock().unwrap().clone()
    }
}

impl Broker {
    /// SIGHUP: read the policy bundle, TLS files and CRLs again.
    pub fn hangup(&self) {
        let pid = self.child.as_ref().expect("running").id().to_string();
        let status = Command::new("kill").args(["-HUP", &pid]).status().unwrap();
        assert!(status.success());
    }

    /// SIGKILL: no shutdown, no cleanup, whatever it was doing.
    pub fn kill(mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().expect("SIGKILL");
        let status = child.wait().unwrap();
        assert!(!status.success(), "killed, not exited");
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `concord push` of the example police extract as `user`.
pub fn push(dir: &Path, port: u16, user: &str, extract_id: &str) -> (Output, String, String) {
    run(concord(dir)
        .arg("push")
        .arg("--tokens")
        .arg(repo().join("deploy/examples/police-2026-10.tokens.csv"))
        .args(["--source", "police", "--extract-id", extract_id])
        .args(["--period", "2026-10", "--mode", "snapshot"])
        .arg("--broker")
        .arg(format!("https://localhost:{port}"))
        .arg("--pki")
        .arg(dir.join("data/pki"))
        .args(["--user", user]))
}
