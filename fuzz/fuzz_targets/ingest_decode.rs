//! The broker's ingest decode path on arbitrary bytes: protobuf →
//! `concord.v1.PushExtractRequest` (prost) → the hand-written conversion
//! to domain types and their validation (`concord_server::convert`,
//! `concord-core`), as `Ingest.PushExtract` does it.
//!
//! Input: the messages of one push stream, each length-delimited (a
//! protobuf varint length, then the message): the header first, then
//! record batches. `fuzz/seeds/make_ingest_seeds.py` writes valid ones.
//! Besides "no panic", checks:
//!
//! * a decoded message encodes and decodes back to itself;
//! * `convert::header` and `convert::record` return a value exactly when
//!   they recorded no violation, and a kept record keeps the header's
//!   source, period and linkage key;
//! * the extract checksum is computed over every record and deletion that
//!   arrived, as the broker does, valid or not.

#![no_main]

use concord_core::{Token, Violations};
use concord_proto::{checksum::ExtractChecksum, prost::Message, v1};
use concord_server::convert;
use libfuzzer_sys::fuzz_target;

/// At most this many messages per input, so one input stays fast.
const MAX_MESSAGES: usize = 64;

fn roundtrip(m: &v1::PushExtractRequest) {
    let bytes = m.encode_to_vec();
    let back = v1::PushExtractRequest::decode(bytes.as_slice()).expect("our own encoding decodes");
    assert_eq!(&back, m, "encode then decode changed the message");
}

fuzz_target!(|data: &[u8]| {
    let mut buf = data;
    let mut messages = Vec::new();
    while !buf.is_empty() && messages.len() < MAX_MESSAGES {
        match v1::PushExtractRequest::decode_length_delimited(&mut buf) {
            Ok(m) => messages.push(m),
            Err(_) => break,
        }
    }
    for m in &messages {
        roundtrip(m);
    }
    // A bare message, the way a single gRPC frame carries one.
    if let Ok(m) = v1::PushExtractRequest::decode(data) {
        roundtrip(&m);
    }
    if let Ok(r) = v1::Record::decode(data) {
        let mut c = ExtractChecksum::new();
        c.add_record(&r);
        let _ = c.finish();
    }

    let mut messages = messages.into_iter();
    let Some(v1::PushExtractRequest {
        message: Some(v1::push_extract_request::Message::Header(raw_header)),
    }) = messages.next()
    else {
        return;
    };
    let mut violations = Violations::new(8);
    let header = convert::header(&raw_header, &mut violations);
    assert_eq!(
        header.is_some(),
        violations.is_empty(),
        "a header is kept exactly when it has no violation"
    );
    let Some(header) = header else {
        return;
    };

    let mut checksum = ExtractChecksum::new();
    let mut received = 0u64;
    for m in messages {
        let Some(v1::push_extract_request::Message::Batch(batch)) = m.message else {
            // The broker refuses a second header; nothing more to decode.
            break;
        };
        for r in &batch.records {
            checksum.add_record(r);
            let before = violations.total();
            let kept = convert::record(r, received, &header, &mut violations);
            assert_eq!(
                kept.is_some(),
                violations.total() == before,
                "a record is kept exactly when it has no violation"
            );
            if let Some(rec) = kept {
                assert!(header.period.contains(rec.event_date));
                assert!(r.source == 0 || r.source == header.source.code());
                assert!(
                    r.tokens
                        .iter()
                        .all(|t| t.key_id == header.linkage_key_id.as_str())
                );
                assert_eq!(rec.tokens.len(), r.tokens.len());
            }
            received += 1;
        }
        for d in &batch.delete_source_refs {
            checksum.add_delete(d);
            assert_eq!(Token::from_slice(d).is_some(), d.len() == 32);
        }
    }
    // The broker compares this with the header's last; a mutated input
    // rarely matches, so only computing it is checked here.
    let _ = checksum.finish() == header.checksum;
});
