//! The extract checksum, computed the same way by the agent and the broker:
//!
//! ```text
//! checksum = SHA-256( SHA-256(records) ‖ SHA-256(deletes) )
//! SHA-256(records) runs over every record in order: u32 BE length ‖ protobuf encoding
//! SHA-256(deletes) runs over every deleted source ref in order: u32 BE length ‖ bytes
//! ```
//!
//! Batch boundaries do not matter. prost encodes a message deterministically
//! (fields in number order, defaults omitted), so both ends agree byte for
//! byte.

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

    pub fn add_record(&mut self, record: &Record) {
        self.buf.clear();
        record.encode(&mut self.buf).expect("a Vec grows as needed");
        self.records.update(&(self.buf.len() as u32).to_be_bytes());
        self.records.update(&self.buf);
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
}
