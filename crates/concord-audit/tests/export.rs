//! The verifier key form and the JSON Lines export: what `concord audit
//! vkey`, `export` and `verify --vkey --export` exchange.

mod common;

use concord_audit::{export::Export, parse_vkey, verify_log};

#[test]
fn a_vkey_round_trips_and_a_doctored_one_is_refused() {
    for _ in 0..20 {
        // Random keys: some base64 keys hold '+', which also separates the parts.
        let signer = common::signer("ak-2026a");
        let (key_id, public_key) = parse_vkey(&signer.vkey()).expect("its own vkey parses");
        assert_eq!(key_id, "ak-2026a");
        assert_eq!(public_key, signer.public_key());
    }
    let vkey = common::signer("ak-2026a").vkey();
    let other = common::signer("ak-2026a").vkey();
    let parts: Vec<&str> = vkey.splitn(3, '+').collect();
    let other_parts: Vec<&str> = other.splitn(3, '+').collect();
    // Another key under this key hash, another name, or junk.
    for bad in [
        format!("{}+{}+{}", parts[0], parts[1], other_parts[2]),
        format!("concord-audit/ak-2026b+{}+{}", parts[1], parts[2]),
        format!("someone-else/ak-2026a+{}+{}", parts[1], parts[2]),
        format!("{}+{}", parts[0], parts[1]),
        format!("{}+{}+AAAA", parts[0], parts[1]),
        String::new(),
    ] {
        assert!(parse_vkey(&bad).is_err(), "{bad}");
    }
}

#[test]
fn an_export_reads_back_byte_for_byte_and_verifies() {
    let signer = common::signer("ak-2026a");
    let (events, _) = common::events(25);
    let checkpoints = common::checkpoints(&signer, &events, 10);
    let export = Export {
        events: events.clone(),
        checkpoints: checkpoints.clone(),
    };
    let text = export.to_jsonl();
    assert_eq!(
        text.iter().filter(|&&b| b == b'\n').count(),
        events.len() + checkpoints.len(),
        "one line each"
    );
    let back = Export::from_jsonl(&text).unwrap();
    assert_eq!(back, export);
    verify_log(&back.events, &back.checkpoints, &signer.public_key()).expect("verifies");

    // A damaged event line is kept as it is, for the verifier to name.
    let mut lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
    let damaged = b"{\"v\":1,\"seq\":3,\"oops\"".to_vec();
    lines[3] = &damaged;
    let back = Export::from_jsonl(&lines.join(&b'\n')).unwrap();
    assert_eq!(back.events[3], damaged);
    let err = verify_log(&back.events, &back.checkpoints, &signer.public_key()).unwrap_err();
    assert_eq!(err.tampering().map(|t| t.event), Some(3), "{err}");

    // A malformed checkpoint line is refused.
    let bad = b"{\"checkpoint\":\"not a note\"}\n";
    assert!(Export::from_jsonl(bad).is_err());
}
