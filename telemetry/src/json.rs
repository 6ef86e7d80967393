//! JSON written straight into the line buffer.
//!
//! Values go from `tracing`'s visitor into the output without an intermediate
//! `serde_json::Value` or a `String` per field: a log line costs one pass over its fields.

use std::error::Error;
use std::fmt::{self, Write};

use tracing::field::{Field, Visit};

/// Field names whose values are never written: the value becomes `"[REDACTED]"`.
///
/// Compared without regard to ASCII case, and `-` matches `_`, so `Set-Cookie`,
/// `set_cookie` and `SET-COOKIE` are all covered.
pub const REDACTED_FIELDS: &[&str] = &[
    "authorization",
    "cookie",
    "set-cookie",
    "token",
    "id_token",
    "access_token",
    "refresh_token",
    "password",
    "secret",
    "x-amz-security-token",
];

/// What a redacted value is written as.
pub const REDACTED: &str = "[REDACTED]";

/// Whether the value of a field named `name` must not be written.
pub fn is_redacted(name: &str) -> bool {
    REDACTED_FIELDS.iter().any(|r| same_name(r, name))
}

fn same_name(a: &str, b: &str) -> bool {
    fn norm(b: u8) -> u8 {
        if b == b'-' {
            b'_'
        } else {
            b.to_ascii_lowercase()
        }
    }
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| norm(x) == norm(y))
}

/// The trace id (`1-5759e988-bd862e3fe1be46a994272793`) from an X-Ray header
/// (`Root=1-…;Parent=…;Sampled=1`), as Powertools logs it and as X-Ray and Logs Insights
/// match it. A value without `Root=` is returned as it is.
pub(crate) fn trace_root(header: &str) -> &str {
    header
        .split(';')
        .find_map(|part| part.trim().strip_prefix("Root="))
        .unwrap_or(header)
        .trim()
}

/// Whether `s` holds a byte JSON escapes (a quote, a backslash, a control character). Most
/// values hold none, and every key and value of a line is checked: eight bytes at a time in a
/// word (the compiler does not vectorise a byte loop this short), with no early exit.
#[inline]
pub(crate) fn needs_escape(s: &str) -> bool {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = ONES * 0x80;
    // Whether any byte of `x` is below `n` (n ≤ 128): exact for "any" (Bit Twiddling Hacks'
    // `hasless`).
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGH != 0;
    let special = |x: u64| {
        below(x, 0x20)
            | below(x ^ (ONES * u64::from(b'"')), 1)
            | below(x ^ (ONES * u64::from(b'\\')), 1)
    };
    let bytes = s.as_bytes();
    let word = |at: usize| u64::from_ne_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    let half = |at: usize| u64::from(u32::from_ne_bytes(bytes[at..at + 4].try_into().expect("4")));
    // The bytes past the last whole word are read in a word that ends with the string's end
    // (overlapping bytes already read, which changes no "any"), rather than one at a time:
    // most keys and values are a few bytes past a multiple of eight.
    match bytes.len() {
        0..4 => bytes
            .iter()
            .any(|&b| (b < 0x20) | (b == b'"') | (b == b'\\')),
        4..8 => special(half(0) | (half(bytes.len() - 4) << 32)),
        n => {
            let mut found = special(word(n - 8));
            for at in (0..n - 8).step_by(8) {
                found |= special(word(at));
            }
            found
        }
    }
}

/// Writes a finite `v` exactly as `Display` does (`3`, `0.125`, `-0`), through the shortest
/// digits printer where it writes that same form: `Display`'s algorithm costs about as much
/// as the rest of a log line's fields.
///
/// The two agree on the digits except where `v` lies exactly halfway between two shortest
/// forms (they break the tie differently). Such a `v` has 17 or 18 significant digits
/// exactly, so its exact decimal has few fractional digits. Taken the fast way: magnitudes
/// from 1e-5 (below, the printer writes an exponent) to 1e14 whose exact decimal has at most
/// 2 fractional digits (at most 16 significant digits: no tie) or at least 24 (at least 20).
pub(crate) fn decimal<W: Write + ?Sized>(out: &mut W, v: f64) -> fmt::Result {
    if (1e-5..1e14).contains(&v.abs()) {
        let places = fraction_digits(v);
        if places <= 2 || places >= 24 {
            let mut buffer = zmij::Buffer::new();
            let text = buffer.format_finite(v);
            // `3.0` is `3` to `Display`.
            return out.write_str(text.strip_suffix(".0").unwrap_or(text));
        }
    }
    write!(out, "{v}")
}

/// The number of fractional digits of a normal `v`'s exact decimal: its fractional bits, as
/// each binary place adds one decimal place (`2^-k` has `k`).
fn fraction_digits(v: f64) -> i32 {
    let bits = v.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i32;
    let mantissa = (bits & ((1 << 52) - 1)) | (1 << 52);
    // v = ±mantissa · 2^(exponent - 1075)
    1075 - exponent - mantissa.trailing_zeros() as i32
}

/// Writes `s` as JSON string content (no quotes), escaping what JSON requires.
pub(crate) struct Escaped<'a, W: ?Sized>(pub &'a mut W);

impl<W: Write + ?Sized> Write for Escaped<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if !needs_escape(s) {
            return self.0.write_str(s);
        }
        let bytes = s.as_bytes();
        let mut clean = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let escape = match b {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0..=0x1f => "",
                _ => continue,
            };
            // Only ASCII bytes are escaped, so `clean..i` is on char boundaries.
            self.0.write_str(&s[clean..i])?;
            if escape.is_empty() {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                self.0.write_str("\\u00")?;
                self.0.write_char(HEX[usize::from(b >> 4)].into())?;
                self.0.write_char(HEX[usize::from(b & 0xf)].into())?;
            } else {
                self.0.write_str(escape)?;
            }
            clean = i + 1;
        }
        self.0.write_str(&s[clean..])
    }
}

/// Writes `s` as a JSON string, quotes included.
pub fn string<W: Write + ?Sized>(out: &mut W, s: &str) -> fmt::Result {
    out.write_char('"')?;
    Escaped(out).write_str(s)?;
    out.write_char('"')
}

/// Writes `"name":` (after a comma: every key follows the line's fixed first keys).
pub(crate) fn key<W: Write + ?Sized>(out: &mut W, name: &str) -> fmt::Result {
    out.write_char(',')?;
    string(out, name)?;
    out.write_char(':')
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
/// the names in [`REDACTED_FIELDS`].
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

/// Writes a `Display` or `Debug` rendering as a JSON string without an intermediate `String`.
fn quoted<W: Write + ?Sized>(out: &mut W, args: fmt::Arguments<'_>) -> fmt::Result {
    out.write_char('"')?;
    Escaped(&mut *out).write_fmt(args)?;
    out.write_char('"')
}

impl<S: Sink> Visit for Fields<S> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        // JSON has no NaN or infinity.
        self.put(field, |out| {
            if value.is_finite() {
                decimal(out, value)
            } else {
                out.write_str("null")
            }
        });
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, |out| {
            out.write_str(itoa::Buffer::new().format(value))
        });
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, |out| {
            out.write_str(itoa::Buffer::new().format(value))
        });
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.put(field, |out| {
            out.write_str(itoa::Buffer::new().format(value))
        });
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.put(field, |out| {
            out.write_str(itoa::Buffer::new().format(value))
        });
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, |out| {
            out.write_str(if value { "true" } else { "false" })
        });
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
        self.put(field, |out| quoted(out, format_args!("{value:?}")));
    }
}

/// Names already written on a line, so that a name appears once: JSON readers disagree
/// on duplicate keys. Fixed size to stay off the heap; past [`SEEN_NAMES`], names are not
/// checked.
///
/// Every name of a line is checked against those before it: a small open-addressing set,
/// keyed by a tag of each name's length and first bytes, rather than a list compared name
/// by name (a few hundred comparisons a line, many of names of the same length).
pub(crate) struct Seen {
    /// A slot's tag (with its top bit set), or 0 for an empty slot.
    tags: [u64; SLOTS],
    names: [&'static str; SLOTS],
    len: usize,
}

const SEEN_NAMES: usize = 48;
/// A power of two, a third more than the names: probes stay short.
const SLOTS: usize = 64;

/// A name's length and up to its first eight bytes, in one word with the top bit set:
/// names with different tags differ, and no tag is 0.
fn tag(name: &str) -> u64 {
    let bytes = name.as_bytes();
    let half = |at: usize| u64::from(u32::from_ne_bytes(bytes[at..at + 4].try_into().expect("4")));
    let head = match bytes.len() {
        0..4 => bytes.iter().fold(0, |tag, &b| tag << 8 | u64::from(b)),
        4..8 => half(0) | half(bytes.len() - 4) << 32,
        _ => u64::from_ne_bytes(bytes[..8].try_into().expect("8 bytes")),
    };
    (head ^ (bytes.len() as u64).rotate_right(8)) | 1 << 63
}

impl Seen {
    #[inline]
    pub fn new(reserved: &[&'static str]) -> Self {
        let mut seen = Self {
            tags: [0; SLOTS],
            names: [""; SLOTS],
            len: 0,
        };
        for name in reserved {
            seen.claim(name);
        }
        seen
    }

    /// True when `name` was not written yet (and now counts as written).
    pub fn claim(&mut self, name: &'static str) -> bool {
        let tag = tag(name);
        // Fibonacci hashing: the tag's top bits spread by a multiply.
        let mut slot =
            (tag.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - SLOTS.trailing_zeros())) as usize;
        loop {
            match self.tags[slot] {
                0 => break,
                known if known == tag && self.names[slot] == name => return false,
                _ => slot = (slot + 1) % SLOTS,
            }
        }
        if self.len < SEEN_NAMES {
            self.tags[slot] = tag;
            self.names[slot] = name;
            self.len += 1;
        }
        true
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
    fn the_word_check_agrees_with_a_byte_check_at_every_place() {
        let special = |s: &str| s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\');
        for len in 0..=25 {
            let clean: String = "abcdefgh é~\u{7f}0123456789xyz".chars().take(len).collect();
            assert!(!needs_escape(&clean), "{clean:?}");
            for at in 0..=clean.len() {
                if !clean.is_char_boundary(at) {
                    continue;
                }
                for c in (0u8..0x80)
                    .map(char::from)
                    .chain(['é', '\u{80}', '\u{ff}', '€'])
                {
                    let mut s = clean.clone();
                    s.insert(at, c);
                    assert_eq!(needs_escape(&s), special(&s), "{s:?}");
                }
            }
        }
    }

    #[test]
    fn every_byte_json_escapes_is_found_wherever_it_is() {
        let clean = "request é \u{7f} ~ completed ".repeat(3);
        assert!(!needs_escape(&clean));
        assert!(!needs_escape(""));
        let escaped = (0u8..0x20).chain([b'"', b'\\']).map(char::from);
        for c in escaped {
            for at in [0, 1, 37, clean.len()] {
                let mut s = clean.clone();
                s.insert(at, c);
                assert!(needs_escape(&s), "{c:?} at {at}");
                let mut out = String::new();
                string(&mut out, &s).unwrap();
                assert_eq!(serde_json::from_str::<String>(&out).unwrap(), s);
            }
        }
    }

    #[test]
    fn decimals_are_written_as_display_writes_them() {
        let mut rng = fastrand::Rng::with_seed(11);
        let check = |v: f64| {
            let mut out = String::new();
            decimal(&mut out, v).unwrap();
            assert_eq!(out, format!("{v}"), "{:?}", v.to_bits());
        };
        // Latencies in milliseconds at microsecond precision, as the summary line has them.
        for micros in (0..2_000_000u64).step_by(7).chain([u64::MAX >> 11]) {
            check(micros as f64 / 1000.0);
        }
        // Powers of ten and their neighbours, at and around the fast range's edges.
        for exp in -8..18 {
            let p = 10f64.powi(exp);
            for v in [p, p.next_down(), p.next_up(), -p, 1.5 * p, p / 3.0] {
                check(v);
            }
        }
        // Any double within the fast range's magnitudes, and any finite double.
        for _ in 0..300_000 {
            let v = rng.f64() * 10f64.powi(rng.i32(-6..16));
            check(if rng.bool() { v } else { -v });
        }
        for _ in 0..200_000 {
            let v = f64::from_bits(rng.u64(..));
            if v.is_finite() {
                check(v);
            }
        }
        // Halfway between two shortest forms: the printers would break these ties apart.
        for v in [
            20561063200677.0 + 0.0625,
            8388608.0 + 2f64.powi(-10),
            -(852869336474185.0 + 0.25),
        ] {
            check(v);
        }
        for v in [
            0.0,
            -0.0,
            1.0,
            0.1,
            0.3,
            1e-5,
            123456.789,
            1e15 - 0.5,
            f64::MIN_POSITIVE,
        ] {
            check(v);
        }
    }

    #[test]
    fn redaction_ignores_case_and_separator() {
        for name in [
            "Authorization",
            "SET_COOKIE",
            "set-cookie",
            "X-Amz-Security-Token",
            "id_token",
        ] {
            assert!(is_redacted(name), "{name}");
        }
        for name in ["auth", "tokens", "item_id", "cookies2"] {
            assert!(!is_redacted(name), "{name}");
        }
    }

    #[test]
    fn trace_root_takes_the_root() {
        assert_eq!(
            trace_root(
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
            ),
            "1-5759e988-bd862e3fe1be46a994272793"
        );
        assert_eq!(trace_root("Self=1-a-b; Root=1-c-d"), "1-c-d");
        assert_eq!(trace_root("1-c-d"), "1-c-d");
    }

    #[test]
    fn seen_claims_once() {
        let mut seen = Seen::new(&["level"]);
        assert!(!seen.claim("level"));
        assert!(seen.claim("a"));
        assert!(!seen.claim("a"));
    }

    /// Names of every length up to 20, differing in one byte anywhere or in length alone:
    /// each is new once, whatever else was claimed, and equal names (as different strings)
    /// are one.
    #[test]
    fn names_alike_in_tag_or_length_are_told_apart() {
        let mut names: Vec<&'static str> = Vec::new();
        for len in 0..=20 {
            let base = "abcdefghijklmnopqrstuvwxyz"[..len].to_owned();
            names.push(Box::leak(base.clone().into_boxed_str()));
            for at in 0..len {
                let mut other = base.clone().into_bytes();
                other[at] = b'_';
                names.push(Box::leak(
                    String::from_utf8(other).unwrap().into_boxed_str(),
                ));
            }
        }
        let mut rng = fastrand::Rng::with_seed(5);
        for _ in 0..200 {
            rng.shuffle(&mut names);
            let chosen = &names[..SEEN_NAMES];
            let mut seen = Seen::new(&[]);
            for name in chosen {
                assert!(seen.claim(name), "{name}");
            }
            for name in chosen {
                let copy: &'static str = Box::leak(name.to_string().into_boxed_str());
                assert!(!seen.claim(copy), "{name}");
            }
        }
    }
}
