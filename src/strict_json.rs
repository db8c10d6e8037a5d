//! JSON read strictly: a duplicated key anywhere is an error, not "last one wins", and every error
//! says where it is as a line and column in the file and as a JSON path (`$.resources[3].properties`).
//!
//! serde_json keeps the last of two equal keys when it builds a `Value`, so
//! `"adminUserEnabled": true, "adminUserEnabled": false` would silently audit a registry as
//! something other than what a reader of the file sees. Inputs amlaudit trusts (snapshots, imports,
//! baselines) go through [`parse`] instead.

use std::cell::RefCell;
use std::fmt::Write as _;

use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Why a document was refused, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    /// 1-based line in the text that was parsed.
    pub line: usize,
    /// 1-based column (bytes) in that line.
    pub column: usize,
    /// Where in the document: `$`, `$.a.b[2]`, `$["odd key"]`.
    pub json_path: String,
    pub message: String,
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: at {}: {}",
            self.line, self.column, self.json_path, self.message
        )
    }
}

/// Parses `text`, whose root is called `root` in paths (`$`, or `$.resources[3]` for a piece of
/// a larger document), rejecting duplicated keys.
pub fn parse(text: &str, root: &str) -> Result<Value, JsonError> {
    let path = RefCell::new(root.to_string());
    let mut de = serde_json::Deserializer::from_str(text);
    let result = Seed { path: &path }
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v));
    result.map_err(|e| JsonError {
        line: e.line(),
        column: e.column(),
        json_path: path.into_inner(),
        message: strip_position(&e.to_string()),
    })
}

/// [`parse`] for bytes: invalid UTF-8 is an error at the first bad byte.
pub fn parse_slice(bytes: &[u8], root: &str) -> Result<Value, JsonError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => parse(text, root),
        Err(e) => {
            let (line, column) = line_column(bytes, e.valid_up_to());
            Err(JsonError {
                line,
                column,
                json_path: root.to_string(),
                message: "not UTF-8 text".to_string(),
            })
        }
    }
}

/// The 1-based line and column of byte `offset` in `bytes`.
pub fn line_column(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    (line, offset - line_start + 1)
}

/// Moves a position found inside a piece of a document (that starts at byte `offset` of the
/// whole) to the whole document's line and column.
pub fn shift(error: &mut JsonError, whole: &[u8], offset: usize) {
    let (line, column) = line_column(whole, offset);
    if error.line <= 1 {
        error.column += column - 1;
    }
    error.line += line - 1;
}

/// `.key`, or `["key"]` when the key is not a plain identifier.
pub fn push_key(path: &mut String, key: &str) {
    let plain = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        path.push('.');
        path.push_str(key);
    } else {
        path.push('[');
        path.push_str(&Value::String(key.to_string()).to_string());
        path.push(']');
    }
}

/// serde_json appends " at line L column C"; [`JsonError`] carries both.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

struct Seed<'a> {
    path: &'a RefCell<String>,
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        loop {
            let len = self.path.borrow().len();
            let _ = write!(self.path.borrow_mut(), "[{}]", items.len());
            let Some(item) = seq.next_element_seed(Seed { path: self.path })? else {
                self.path.borrow_mut().truncate(len);
                break;
            };
            self.path.borrow_mut().truncate(len);
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(A::Error::custom(format!(
                    "duplicate key {}: a key may appear only once in an object",
                    Value::String(key)
                )));
            }
            let len = self.path.borrow().len();
            push_key(&mut self.path.borrow_mut(), &key);
            let value = map.next_value_seed(Seed { path: self.path })?;
            self.path.borrow_mut().truncate(len);
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_refused_with_their_place() {
        let text = "{\n  \"a\": [1, {\"x\": true,\n    \"x\": false}]\n}";
        let err = parse(text, "$").unwrap_err();
        assert_eq!(err.json_path, "$.a[1]");
        assert_eq!(err.line, 3);
        assert!(err.message.contains("duplicate key \"x\""), "{err}");
        assert_eq!(
            parse(r#"{"odd key": {"k": 1}}"#, "$").unwrap(),
            serde_json::json!({"odd key": {"k": 1}})
        );
        let err = parse(r#"{"odd key": {"k": }}"#, "$.r[0]").unwrap_err();
        assert_eq!(err.json_path, r#"$.r[0]["odd key"].k"#);
    }

    #[test]
    fn positions_shift_into_the_whole_file() {
        let whole = b"{\n  \"r\": [\n    {\"a\": 1, \"a\": 2}]}";
        let offset = 15;
        assert_eq!(whole[offset], b'{');
        let piece = std::str::from_utf8(&whole[offset..offset + 16]).unwrap();
        let mut err = parse(piece, "$.r[0]").unwrap_err();
        shift(&mut err, whole, offset);
        assert_eq!((err.line, err.json_path.as_str()), (3, "$.r[0]"));
        assert!(err.column > 5, "{err}");
    }
}
