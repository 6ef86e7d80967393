//! JSON writing: strings, keys, and a `tracing` visitor that writes each field's value.

use std::error::Error;
use std::fmt::{self, Write};

use tracing::field::{Field, Visit};

use crate::redaction::{REDACTED, is_redacted};

/// Writes `s` as JSON string content (no quotes), escaping what JSON requires.
pub(crate) struct Escaped<'a, W: ?Sized>(pub &'a mut W);

/// For each byte, what follows the `\` that escapes it: `0` for a byte written as it is,
/// `u` for one written as `\u00XX`. A table, as serde_json's writer has: one lookup a byte
/// (a `match` cost about 5k instructions more an invocation in the telemetry bench).
const ESCAPE: [u8; 256] = {
    let mut table = [0; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = b'u';
        b += 1;
    }
    table[b'\n' as usize] = b'n';
    table[b'\r' as usize] = b'r';
    table[b'\t' as usize] = b't';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

/// Whether any byte of `bytes` is escaped. No branch per byte, so that the compiler
/// compares many bytes at once (in vector registers).
fn any_escaped(bytes: &[u8]) -> bool {
    bytes.iter().fold(false, |any, &b| {
        any | (b < 0x20) | (b == b'"') | (b == b'\\')
    })
}

impl<W: Write + ?Sized> Write for Escaped<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // Nearly every string needs no escaping: one pass without a branch per byte tells
        // (2k instructions less an invocation than the table alone).
        if !any_escaped(s.as_bytes()) {
            return self.0.write_str(s);
        }
        let mut clean = 0;
        for (i, &b) in s.as_bytes().iter().enumerate() {
            let escape = ESCAPE[usize::from(b)];
            if escape == 0 {
                continue;
            }
            // Only ASCII bytes are escaped, so `clean..i` is on char boundaries.
            self.0.write_str(&s[clean..i])?;
            if escape == b'u' {
                write!(self.0, "\\u{b:04x}")?;
            } else {
                self.0.write_char('\\')?;
                self.0.write_char(char::from(escape))?;
            }
            clean = i + 1;
        }
        self.0.write_str(&s[clean..])
    }
}

/// Writes `s` as a JSON string, quotes included.
pub fn string<W: Write + ?Sized>(out: &mut W, s: &str) -> fmt::Result {
    out.write_char('"')?;
    Escaped(&mut *out).write_str(s)?;
    out.write_char('"')
}

/// Writes `"name":` (after a comma: every key follows the line's fixed first keys).
pub(crate) fn key<W: Write + ?Sized>(out: &mut W, name: &str) -> fmt::Result {
    out.write_char(',')?;
    string(out, name)?;
    out.write_char(':')
}

/// Writes a finite number as `Display` does (`3`, `0.125`, `-0`); JSON has no NaN or
/// infinity, which become `null`.
pub(crate) fn number<W: Write + ?Sized>(out: &mut W, v: f64) -> fmt::Result {
    if v.is_finite() {
        write!(out, "{v}")
    } else {
        out.write_str("null")
    }
}

/// Where [`Fields`] puts the values it encodes: a log line, or a span's stored fields.
pub(crate) trait Sink {
    type Out: Write;

    /// Called before a field's value; `None` skips the field. Writes the key if there is one.
    fn begin(&mut self, name: &'static str) -> Option<&mut Self::Out>;

    /// Called after the value of the field `begin` accepted.
    fn end(&mut self) {}

    /// Lets a sink rewrite a string value before it is encoded.
    fn str_value<'v>(&self, _name: &'static str, value: &'v str) -> &'v str {
        value
    }
}

/// A `tracing` visitor writing each field's value as JSON into a [`Sink`], redacting
/// the names in [`crate::REDACTED_FIELDS`].
pub(crate) struct Fields<S> {
    pub sink: S,
    pub result: fmt::Result,
}

impl<S: Sink> Fields<S> {
    pub fn new(sink: S) -> Self {
        Self {
            sink,
            result: Ok(()),
        }
    }

    fn put(&mut self, field: &Field, value: impl FnOnce(&mut S::Out) -> fmt::Result) {
        let name = field.name();
        if let Some(out) = self.sink.begin(name) {
            let written = if is_redacted(name) {
                string(out, REDACTED)
            } else {
                value(out)
            };
            self.result = self.result.and(written);
            self.sink.end();
        }
    }
}

impl<S: Sink> Visit for Fields<S> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, |out| number(out, value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, |out| write!(out, "{value}"));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, |out| write!(out, "{value}"));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.put(field, |out| write!(out, "{value}"));
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.put(field, |out| write!(out, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, |out| write!(out, "{value}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        let value = self.sink.str_value(field.name(), value);
        self.put(field, |out| string(out, value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn Error + 'static)) {
        // The whole chain: SDK errors say "service error" at the top and the cause below.
        self.put(field, |out| {
            out.write_char('"')?;
            let mut esc = Escaped(&mut *out);
            write!(esc, "{value}")?;
            let mut source = value.source();
            while let Some(err) = source {
                write!(esc, ": {err}")?;
                source = err.source();
            }
            out.write_char('"')
        });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // `message` arrives here as `fmt::Arguments`, whose Debug is its Display.
        self.put(field, |out| {
            out.write_char('"')?;
            write!(Escaped(&mut *out), "{value:?}")?;
            out.write_char('"')
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_json_requires() {
        let mut out = String::new();
        string(&mut out, "a\"b\\c\nd\u{1}é\u{7f}").unwrap();
        assert_eq!(out, "\"a\\\"b\\\\c\\nd\\u0001é\u{7f}\"");
        let back: String = serde_json::from_str(&out).unwrap();
        assert_eq!(back, "a\"b\\c\nd\u{1}é\u{7f}");
    }

    #[test]
    fn every_byte_json_escapes_is_escaped_wherever_it_is() {
        let clean = "request é \u{7f} ~ completed ".repeat(3);
        let escaped = (0u8..0x20).chain([b'"', b'\\']).map(char::from);
        for c in escaped {
            for at in [0, 1, 37, clean.len()] {
                let mut s = clean.clone();
                s.insert(at, c);
                let mut out = String::new();
                string(&mut out, &s).unwrap();
                assert_eq!(serde_json::from_str::<String>(&out).unwrap(), s);
            }
        }
    }

    #[test]
    fn numbers_are_written_as_display_writes_them_and_json_reads_them() {
        for v in [0.0, -0.0, 3.0, 0.125, 0.1, 1e-5, 123_456.789, 3.2] {
            let mut out = String::new();
            number(&mut out, v).unwrap();
            assert_eq!(out, format!("{v}"));
            assert_eq!(serde_json::from_str::<f64>(&out).unwrap(), v, "{out}");
        }
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let mut out = String::new();
            number(&mut out, v).unwrap();
            assert_eq!(out, "null");
        }
    }
}
