//! The decision object a policy produced, read where regorus left it.
//!
//! Copying a lookup decision (about 150 strings: sources, fields, withheld
//! lists, obligations) into `serde_json` took about a quarter of the
//! decision's CPU time. [`Body`] keeps regorus's value (reference-counted,
//! so cloning is cheap) and offers the few reads the services make; a
//! Rego set reads as a list, as it would in JSON.

use regorus::Value;
use serde::Serialize;

/// The whole decision object (`allow`, `reason` and any other keys).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Body(Value);

impl Body {
    pub(crate) fn new(value: Value) -> Body {
        Body(value)
    }

    /// A body from JSON, as a policy would have produced it (for tests of
    /// the services that read decisions).
    pub fn from_json(json: serde_json::Value) -> Body {
        Body(Value::from(json))
    }

    /// The body as one value, to read nested parts.
    pub fn root(&self) -> Part<'_> {
        Part(&self.0)
    }

    /// The value under `key` of the decision object.
    pub fn get(&self, key: &str) -> Option<Part<'_>> {
        self.root().get(key)
    }

    /// The body as JSON (for tests, logs of policy authors, tools).
    pub fn to_json(&self) -> serde_json::Value {
        // regorus values are JSON values (sets as arrays, object keys
        // strings or rendered), so this does not fail for a decision that
        // passed `interpret`.
        serde_json::to_value(&self.0).unwrap_or(serde_json::Value::Null)
    }
}

/// A part of a decision body.
#[derive(Debug, Clone, Copy)]
pub struct Part<'a>(&'a Value);

impl<'a> Part<'a> {
    /// The value under `key`, if this is an object holding it.
    pub fn get(self, key: &str) -> Option<Part<'a>> {
        let Value::Object(map) = self.0 else {
            return None;
        };
        map.get(&Value::from(key)).map(Part)
    }

    pub fn as_str(self) -> Option<&'a str> {
        match self.0 {
            Value::String(s) => Some(&**s),
            _ => None,
        }
    }

    pub fn as_bool(self) -> Option<bool> {
        match self.0 {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// A whole number from 0 to `u64::MAX`.
    pub fn as_u64(self) -> Option<u64> {
        self.0.as_u64().ok()
    }

    /// The elements of an array, or of a set in its order.
    pub fn as_list(self) -> Option<Vec<Part<'a>>> {
        match self.0 {
            Value::Array(items) => Some(items.iter().map(Part).collect()),
            Value::Set(items) => Some(items.iter().map(Part).collect()),
            _ => None,
        }
    }

    /// The entries of an object whose keys are all strings, in key order.
    pub fn as_object(self) -> Option<Vec<(&'a str, Part<'a>)>> {
        let Value::Object(map) = self.0 else {
            return None;
        };
        map.iter()
            .map(|(k, v)| match k {
                Value::String(k) => Some((&**k, Part(v))),
                _ => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: &str) -> Body {
        Body::new(Value::from_json_str(json).unwrap())
    }

    #[test]
    fn reads_what_json_would_hold() {
        let b = body(
            r#"{"allow": true, "n": 5, "neg": -1, "frac": 1.5, "s": "x",
                "list": ["a", "b"], "obj": {"k": {"inner": "v"}}}"#,
        );
        assert_eq!(b.get("allow").and_then(Part::as_bool), Some(true));
        assert_eq!(b.get("n").and_then(Part::as_u64), Some(5));
        assert_eq!(b.get("neg").and_then(Part::as_u64), None);
        assert_eq!(b.get("frac").and_then(Part::as_u64), None);
        assert_eq!(b.get("s").and_then(Part::as_str), Some("x"));
        assert_eq!(b.get("s").and_then(Part::as_bool), None);
        let list: Vec<_> = b
            .get("list")
            .and_then(Part::as_list)
            .unwrap()
            .into_iter()
            .filter_map(Part::as_str)
            .collect();
        assert_eq!(list, ["a", "b"]);
        let obj = b.get("obj").and_then(Part::as_object).unwrap();
        assert_eq!(obj.len(), 1);
        assert_eq!(obj[0].0, "k");
        assert_eq!(obj[0].1.get("inner").and_then(Part::as_str), Some("v"));
        assert!(b.get("missing").is_none());
        assert!(b.get("s").unwrap().get("k").is_none());
        assert_eq!(b.to_json()["obj"]["k"]["inner"], "v");
        let json = serde_json::json!({"allow": false, "reason": "r", "xs": [1, "a", null]});
        assert_eq!(Body::from_json(json.clone()).to_json(), json);
    }

    #[test]
    fn a_set_reads_as_a_list_and_non_string_keys_as_no_object() {
        let mut set = std::collections::BTreeSet::new();
        set.insert(Value::from("b"));
        set.insert(Value::from("a"));
        let mut map = std::collections::BTreeMap::new();
        map.insert(Value::from("set"), Value::from(set));
        let mut numeric = std::collections::BTreeMap::new();
        numeric.insert(Value::from(1u64), Value::from("one"));
        map.insert(Value::from("numeric"), Value::from(numeric));
        let b = Body::new(Value::from(map));
        let set: Vec<_> = b
            .get("set")
            .and_then(Part::as_list)
            .unwrap()
            .into_iter()
            .filter_map(Part::as_str)
            .collect();
        assert_eq!(set, ["a", "b"]);
        assert!(b.get("numeric").and_then(Part::as_object).is_none());
    }
}
