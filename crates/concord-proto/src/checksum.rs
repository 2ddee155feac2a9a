//! The extract checksum, computed the same way by the agent and the broker:
//!
//! ```text
//! checksum = SHA-256( SHA-256(records) ‖ SHA-256(deletes) )
//! SHA-256(records) runs over every record in order: u32 BE length ‖ the record's bytes as sent
//! SHA-256(deletes) runs over every deleted source ref in order: u32 BE length ‖ bytes
//! ```
//!
//! A record's bytes are the contents of its `RecordBatch.records` entry on
//! the wire (the embedded message, without its tag and length), whatever
//! order the sender's protobuf library wrote its fields in: the broker
//! reads each record as bytes first ([`crate::wire`]) and checks the
//! checksum over those, then decodes them. Batch boundaries do not matter.
//! [`ExtractChecksum::add_record`] encodes with prost, which writes fields
//! in number order and omits defaults; a client that sends prost's encoding
//! (as `concord_client` does) can use it, any other client hashes what it
//! sends with [`ExtractChecksum::add_record_bytes`].

use prost::Message;
use ring::digest::{Context, SHA256};

use crate::v1::Record;

/// A running extract checksum.
#[derive(Clone)]
pub struct ExtractChecksum {
    records: Context,
    deletes: Context,
    buf: Vec<u8>,
}

impl Default for ExtractChecksum {
    fn default() -> Self {
        ExtractChecksum {
            records: Context::new(&SHA256),
            deletes: Context::new(&SHA256),
            buf: Vec::new(),
        }
    }
}

impl ExtractChecksum {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a record as prost encodes it (the bytes prost sends).
    pub fn add_record(&mut self, record: &Record) {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        record.encode(&mut buf).expect("a Vec grows as needed");
        self.add_record_bytes(&buf);
        self.buf = buf;
    }

    /// Adds a record as the bytes that are (or were) sent for it.
    pub fn add_record_bytes(&mut self, encoded: &[u8]) {
        self.records.update(&(encoded.len() as u32).to_be_bytes());
        self.records.update(encoded);
    }

    pub fn add_delete(&mut self, source_ref: &[u8]) {
        self.deletes
            .update(&(source_ref.len() as u32).to_be_bytes());
        self.deletes.update(source_ref);
    }

    pub fn finish(self) -> [u8; 32] {
        let mut outer = Context::new(&SHA256);
        outer.update(self.records.finish().as_ref());
        outer.update(self.deletes.finish().as_ref());
        outer
            .finish()
            .as_ref()
            .try_into()
            .expect("SHA-256 is 32 bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checksum_depends_on_content_and_order_only() {
        let a = Record {
            event_date: "2026-10-01".into(),
            ..Record::default()
        };
        let b = Record {
            event_date: "2026-10-02".into(),
            ..Record::default()
        };
        let sum = |rs: &[&Record], ds: &[&[u8]]| {
            let mut c = ExtractChecksum::new();
            rs.iter().for_each(|r| c.add_record(r));
            ds.iter().for_each(|d| c.add_delete(d));
            c.finish()
        };
        assert_eq!(sum(&[&a, &b], &[]), sum(&[&a, &b], &[]));
        assert_ne!(sum(&[&a, &b], &[]), sum(&[&b, &a], &[]));
        assert_ne!(sum(&[&a], &[]), sum(&[&a], &[&[1; 32]]));
        // A record cannot be confused with a deletion.
        assert_ne!(sum(&[], &[&[1; 32]]), sum(&[&a], &[]));
    }

    #[test]
    fn a_record_counts_as_the_bytes_that_carried_it() {
        let a = Record {
            kind: 1,
            event_date: "2026-10-01".into(),
            ..Record::default()
        };
        let mut by_prost = ExtractChecksum::new();
        by_prost.add_record(&a);
        let mut by_bytes = ExtractChecksum::new();
        by_bytes.add_record_bytes(&a.encode_to_vec());
        assert_eq!(by_prost.finish(), by_bytes.finish());
        // The same record with its fields in another order (event_date, tag
        // 5, before kind, tag 3): the same record, other bytes, another sum.
        let mut reordered = vec![0x2a, 10];
        reordered.extend_from_slice(b"2026-10-01");
        reordered.extend_from_slice(&[0x18, 1]);
        assert_eq!(Record::decode(reordered.as_slice()).unwrap(), a);
        let mut other = ExtractChecksum::new();
        other.add_record_bytes(&reordered);
        let mut by_prost = ExtractChecksum::new();
        by_prost.add_record(&a);
        assert_ne!(other.finish(), by_prost.finish());
    }
}
