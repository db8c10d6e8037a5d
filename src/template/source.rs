//! A JSON reader that remembers where each value starts, so planned resources and template errors
//! can name a file, line and column.
//!
//! serde_json keeps no positions, and an ARM template may carry `//` and `/* */` comments (the ARM
//! template parser accepts them), so templates are read here. Each value's position is kept under
//! its JSON pointer (`/resources/0`); lines and columns count from 1, columns in UTF-16 code
//! units (SARIF's `utf16CodeUnits`).

use std::collections::HashMap;

use serde_json::{Map, Number, Value};

/// A place in a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// A parsed document and the position of every value in it.
#[derive(Debug, Clone)]
pub struct Document {
    pub value: Value,
    positions: HashMap<String, Position>,
}

impl Document {
    /// Where the value at a JSON pointer starts; the nearest enclosing value when the pointer
    /// names something the file does not spell out.
    pub fn position(&self, pointer: &str) -> Position {
        let mut p = pointer;
        loop {
            if let Some(pos) = self.positions.get(p) {
                return *pos;
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return Position { line: 1, column: 1 },
            }
        }
    }
}

/// A syntax error, with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub position: Position,
    pub message: String,
}

/// Parses JSON (with comments) into a [`Document`].
pub fn parse(text: &str) -> Result<Document, SyntaxError> {
    let mut reader = Reader {
        chars: text.chars().collect(),
        at: 0,
        line: 1,
        column: 1,
        positions: HashMap::new(),
    };
    // A byte-order mark is allowed before the document.
    if reader.peek() == Some('\u{feff}') {
        reader.bump();
    }
    reader.skip_blank()?;
    let value = reader.value(String::new(), 0)?;
    reader.skip_blank()?;
    if reader.peek().is_some() {
        return Err(reader.error("unexpected text after the end of the document"));
    }
    Ok(Document {
        value,
        positions: reader.positions,
    })
}

/// Escapes one JSON pointer segment (RFC 6901).
pub fn escape_segment(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

const MAX_DEPTH: usize = 256;

struct Reader {
    chars: Vec<char>,
    at: usize,
    line: usize,
    column: usize,
    positions: HashMap<String, Position>,
}

impl Reader {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += 1;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            // Columns count UTF-16 code units, as the SARIF report declares (`columnKind`) and
            // as editors that take SARIF expect; the same as characters outside astral planes.
            self.column += c.len_utf16();
        }
        Some(c)
    }

    fn here(&self) -> Position {
        Position {
            line: self.line,
            column: self.column,
        }
    }

    fn error(&self, message: &str) -> SyntaxError {
        SyntaxError {
            position: self.here(),
            message: message.to_string(),
        }
    }

    fn skip_blank(&mut self) -> Result<(), SyntaxError> {
        loop {
            match self.peek() {
                Some(' ' | '\t' | '\n' | '\r') => {
                    self.bump();
                }
                Some('/') => match self.chars.get(self.at + 1) {
                    Some('/') => {
                        while let Some(c) = self.peek() {
                            if c == '\n' {
                                break;
                            }
                            self.bump();
                        }
                    }
                    Some('*') => {
                        let start = self.here();
                        self.bump();
                        self.bump();
                        loop {
                            match self.bump() {
                                Some('*') if self.peek() == Some('/') => {
                                    self.bump();
                                    break;
                                }
                                Some(_) => {}
                                None => {
                                    return Err(SyntaxError {
                                        position: start,
                                        message: "unterminated comment".into(),
                                    });
                                }
                            }
                        }
                    }
                    _ => return Err(self.error("unexpected `/`")),
                },
                _ => return Ok(()),
            }
        }
    }

    fn expect(&mut self, c: char) -> Result<(), SyntaxError> {
        if self.peek() == Some(c) {
            self.bump();
            Ok(())
        } else {
            Err(self.error(&format!("expected `{c}`, found {}", describe(self.peek()))))
        }
    }

    fn value(&mut self, pointer: String, depth: usize) -> Result<Value, SyntaxError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        self.positions.insert(pointer.clone(), self.here());
        match self.peek() {
            Some('{') => {
                self.bump();
                let mut map = Map::new();
                self.skip_blank()?;
                if self.peek() == Some('}') {
                    self.bump();
                    return Ok(Value::Object(map));
                }
                loop {
                    self.skip_blank()?;
                    if self.peek() != Some('"') {
                        return Err(self.error(&format!(
                            "expected a property name in double quotes, found {}",
                            describe(self.peek())
                        )));
                    }
                    let key = self.string()?;
                    self.skip_blank()?;
                    self.expect(':')?;
                    self.skip_blank()?;
                    let child = format!("{pointer}/{}", escape_segment(&key));
                    let v = self.value(child, depth + 1)?;
                    map.insert(key, v);
                    self.skip_blank()?;
                    match self.bump() {
                        Some(',') => continue,
                        Some('}') => return Ok(Value::Object(map)),
                        other => {
                            return Err(self.error(&format!(
                                "expected `,` or `}}` in an object, found {}",
                                describe(other)
                            )));
                        }
                    }
                }
            }
            Some('[') => {
                self.bump();
                let mut items = Vec::new();
                self.skip_blank()?;
                if self.peek() == Some(']') {
                    self.bump();
                    return Ok(Value::Array(items));
                }
                loop {
                    self.skip_blank()?;
                    let child = format!("{pointer}/{}", items.len());
                    items.push(self.value(child, depth + 1)?);
                    self.skip_blank()?;
                    match self.bump() {
                        Some(',') => continue,
                        Some(']') => return Ok(Value::Array(items)),
                        other => {
                            return Err(self.error(&format!(
                                "expected `,` or `]` in an array, found {}",
                                describe(other)
                            )));
                        }
                    }
                }
            }
            Some('"') => Ok(Value::String(self.string()?)),
            Some('t') => self.word("true", Value::Bool(true)),
            Some('f') => self.word("false", Value::Bool(false)),
            Some('n') => self.word("null", Value::Null),
            Some(c) if c == '-' || c.is_ascii_digit() => self.number(),
            other => Err(self.error(&format!("expected a value, found {}", describe(other)))),
        }
    }

    fn word(&mut self, word: &str, value: Value) -> Result<Value, SyntaxError> {
        let start = self.here();
        for expected in word.chars() {
            if self.bump() != Some(expected) {
                return Err(SyntaxError {
                    position: start,
                    message: format!("expected `{word}`"),
                });
            }
        }
        Ok(value)
    }

    fn number(&mut self) -> Result<Value, SyntaxError> {
        let start = self.here();
        let mut text = String::new();
        while let Some(c) = self.peek() {
            if c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E') {
                text.push(c);
                self.bump();
            } else {
                break;
            }
        }
        serde_json::from_str::<Number>(&text)
            .map(Value::Number)
            .map_err(|_| SyntaxError {
                position: start,
                message: format!("`{text}` is not a number"),
            })
    }

    fn string(&mut self) -> Result<String, SyntaxError> {
        let start = self.here();
        self.expect('"')?;
        let mut out = String::new();
        loop {
            match self.bump() {
                None => {
                    return Err(SyntaxError {
                        position: start,
                        message: "unterminated string".into(),
                    });
                }
                Some('"') => return Ok(out),
                Some('\\') => match self.bump() {
                    Some('"') => out.push('"'),
                    Some('\\') => out.push('\\'),
                    Some('/') => out.push('/'),
                    Some('b') => out.push('\u{8}'),
                    Some('f') => out.push('\u{c}'),
                    Some('n') => out.push('\n'),
                    Some('r') => out.push('\r'),
                    Some('t') => out.push('\t'),
                    Some('u') => {
                        let first = self.hex4()?;
                        let code = if (0xD800..0xDC00).contains(&first)
                            && self.peek() == Some('\\')
                            && self.chars.get(self.at + 1) == Some(&'u')
                        {
                            self.bump();
                            self.bump();
                            let second = self.hex4()?;
                            0x10000
                                + ((first - 0xD800) << 10)
                                + (second.wrapping_sub(0xDC00) & 0x3FF)
                        } else {
                            first
                        };
                        out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                    }
                    other => {
                        return Err(
                            self.error(&format!("invalid escape {} in a string", describe(other)))
                        );
                    }
                },
                Some(c) => out.push(c),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, SyntaxError> {
        let mut code = 0;
        for _ in 0..4 {
            let digit = self
                .bump()
                .and_then(|c| c.to_digit(16))
                .ok_or_else(|| self.error("invalid \\u escape"))?;
            code = code * 16 + digit;
        }
        Ok(code)
    }
}

fn describe(c: Option<char>) -> String {
    match c {
        None => "the end of the file".to_string(),
        Some(c) if c.is_control() => format!("U+{:04X}", c as u32),
        Some(c) => format!("`{c}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_and_comments() {
        let doc = parse(
            "{\n  // a comment\n  \"resources\": [\n    /* one */ {\"type\": \"a\"},\n    {\"x\": \"\\u00e9\"}\n  ]\n}",
        )
        .unwrap();
        assert_eq!(
            doc.position("/resources/0"),
            Position {
                line: 4,
                column: 15
            }
        );
        assert_eq!(
            doc.position("/resources/1"),
            Position { line: 5, column: 5 }
        );
        assert_eq!(
            doc.position("/resources/1/missing"),
            Position { line: 5, column: 5 }
        );
        assert_eq!(doc.value["resources"][1]["x"], "é");
    }

    #[test]
    fn errors_have_places() {
        let err = parse("{\n  \"a\": [1, 2,,]\n}").unwrap_err();
        assert_eq!(
            err.position,
            Position {
                line: 2,
                column: 14
            }
        );
        let err = parse("{\"a\": tru}").unwrap_err();
        assert_eq!(err.position.column, 7);
        // An emoji is two UTF-16 code units: what SARIF viewers count.
        let doc = parse("{\"\u{1F600}\": 1, \"b\": 2}").unwrap();
        assert_eq!(
            doc.position("/b"),
            Position {
                line: 1,
                column: 16
            }
        );
    }
}
