//! The protocol's JSON Schema (`schema/protocol-v1.json`), compiled once, checking every line.

use serde_json::Value;

/// The schema text, embedded so the harness works from any directory.
pub const SCHEMA_TEXT: &str = include_str!("../schema/protocol-v1.json");

/// Compiled validators for both directions.
pub struct Schema {
    from_testee: jsonschema::Validator,
    to_testee: jsonschema::Validator,
}

impl Schema {
    /// Compiles the embedded schema.
    pub fn load() -> Schema {
        let doc: Value = serde_json::from_str(SCHEMA_TEXT).expect("embedded schema is JSON");
        let with_root = |def: &str| {
            let mut v = doc.clone();
            v["$ref"] = Value::String(format!("#/$defs/{def}"));
            jsonschema::validator_for(&v).expect("embedded schema compiles")
        };
        Schema {
            from_testee: with_root("from_testee"),
            to_testee: with_root("to_testee"),
        }
    }

    /// Checks a testee-to-harness message.
    pub fn check_from_testee(&self, v: &Value) -> Result<(), String> {
        check(&self.from_testee, v)
    }

    /// Checks a harness-to-testee command.
    pub fn check_to_testee(&self, v: &Value) -> Result<(), String> {
        check(&self.to_testee, v)
    }
}

fn check(validator: &jsonschema::Validator, v: &Value) -> Result<(), String> {
    let errors: Vec<String> = validator
        .iter_errors(v)
        .take(3)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!("schema violation: {}", errors.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accepts_and_rejects() {
        let s = Schema::load();
        assert!(s
            .check_from_testee(&json!({"type":"ok","id":1,"start_seq":-1}))
            .is_ok());
        assert!(s
            .check_from_testee(
                &json!({"type":"events","id":1,"first":0,"last":3,"digest":"00112233aabbccdd"})
            )
            .is_ok());
        assert!(s
            .check_from_testee(&json!({"type":"events","id":1,"first":0,"last":3,"digest":"XYZ"}))
            .is_err());
        assert!(s
            .check_from_testee(&json!({"type":"error","id":1,"kind":"bogus","message":""}))
            .is_err());
        assert!(s
            .check_from_testee(
                &json!({"type":"hello","protocol":2,"impl":"x","version":"1","capabilities":[]})
            )
            .is_err());
        assert!(s
            .check_to_testee(
                &json!({"cmd":"consume","id":2,"count":5,"mode":"copy","timeout_ms":10})
            )
            .is_ok());
        assert!(s.check_to_testee(&json!({"cmd":"attach_consumer","id":2,"ring":{"backend":"mmap","name":"x"},"consumer_id":"c_0","event_size":8,"timeout_ms":1})).is_err());
        assert!(s.check_to_testee(&json!({"cmd":"exit"})).is_ok());
    }

    #[test]
    fn optional_chaos_additions() {
        let s = Schema::load();
        assert!(s
            .check_from_testee(
                &json!({"type":"liveness","id":3,"consumer_id":"c_1","dead":true,"mono_ns":12345})
            )
            .is_ok());
        assert!(s
            .check_from_testee(
                &json!({"type":"liveness","id":3,"consumer_id":"c_1","dead":"yes","mono_ns":1})
            )
            .is_err());
        assert!(s
            .check_from_testee(
                &json!({"type":"error","id":1,"kind":"producer_gone","message":"gone"})
            )
            .is_ok());
        let attach = json!({"cmd":"attach_consumer","id":2,"ring":{"backend":"shm","name":"x"},"consumer_id":"c_0","event_size":8,"timeout_ms":1,"resync":true});
        assert!(s.check_to_testee(&attach).is_ok());
        let create = json!({"cmd":"create_producer","id":1,"ring":{"backend":"shm","name":"x"},"capacity":8,"event_size":8,
                            "required":{"ids":["c_0"],"action":"evict","progress_timeout_ms":100,"grace_ms":0}});
        assert!(s.check_to_testee(&create).is_ok());
        let bad = json!({"cmd":"create_producer","id":1,"ring":{"backend":"shm","name":"x"},"capacity":8,"event_size":8,
                         "required":{"ids":["c_0"],"action":"evict","progress_timeout_ms":0}});
        assert!(s.check_to_testee(&bad).is_err());
    }
}
