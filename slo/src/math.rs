//! Metric math, the part of it the alarms and dashboards use: numbers, ids of other queries,
//! `+ - * /`, parentheses, unary minus, `FILL(series, value)` and `RUNNING_SUM(series)`.
//! Anything else is refused with an error that names it, rather than evaluated differently
//! from CloudWatch.
//!
//! As in CloudWatch, an operation on two series has a value only at timestamps where both have
//! one; `FILL` gives a value at every period of the query's window; a division by zero leaves
//! that timestamp without a value. `RUNNING_SUM` is "a time series with the running sum of the
//! values in the original time series"
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html>):
//! at each timestamp with a value, the sum of the values up to it since the query's start.

use std::collections::BTreeMap;

/// A time series: period start (seconds) to value.
pub type Series = BTreeMap<i64, f64>;

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Number(f64),
    Id(String),
    Neg(Box<Expr>),
    Binary(char, Box<Expr>, Box<Expr>),
    Fill(Box<Expr>, f64),
    RunningSum(Box<Expr>),
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Number(f64),
    Ident(String),
    Op(char),
    Open,
    Close,
    Comma,
}

fn tokens(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' => i += 1,
            '+' | '-' | '*' | '/' => {
                out.push(Token::Op(c));
                i += 1;
            }
            '(' => {
                out.push(Token::Open);
                i += 1;
            }
            ')' => {
                out.push(Token::Close);
                i += 1;
            }
            ',' => {
                out.push(Token::Comma);
                i += 1;
            }
            c if c.is_ascii_digit() || c == '.' => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                let n = text
                    .parse()
                    .map_err(|_| format!("`{text}` is not a number"))?;
                out.push(Token::Number(n));
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                out.push(Token::Ident(chars[start..i].iter().collect()));
            }
            other => {
                return Err(format!(
                    "`{other}` is not supported by this metric math (supported: numbers, ids, + - * /, parentheses, FILL, RUNNING_SUM)"
                ));
            }
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn expect(&mut self, want: &Token) -> Result<(), String> {
        match self.next() {
            Some(t) if &t == want => Ok(()),
            other => Err(format!("expected {want:?}, found {other:?}")),
        }
    }

    fn sum(&mut self) -> Result<Expr, String> {
        let mut left = self.product()?;
        while let Some(Token::Op(op @ ('+' | '-'))) = self.peek().cloned() {
            self.at += 1;
            left = Expr::Binary(op, Box::new(left), Box::new(self.product()?));
        }
        Ok(left)
    }

    fn product(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        while let Some(Token::Op(op @ ('*' | '/'))) = self.peek().cloned() {
            self.at += 1;
            left = Expr::Binary(op, Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.peek() == Some(&Token::Op('-')) {
            self.at += 1;
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Expr, String> {
        match self.next() {
            Some(Token::Number(n)) => Ok(Expr::Number(n)),
            Some(Token::Open) => {
                let e = self.sum()?;
                self.expect(&Token::Close)?;
                Ok(e)
            }
            Some(Token::Ident(name)) if self.peek() == Some(&Token::Open) => {
                self.at += 1;
                if name == "RUNNING_SUM" {
                    let series = self.sum()?;
                    self.expect(&Token::Close)?;
                    return Ok(Expr::RunningSum(Box::new(series)));
                }
                if name != "FILL" {
                    return Err(format!(
                        "function `{name}` is not supported by this metric math (supported: FILL, RUNNING_SUM)"
                    ));
                }
                let series = self.sum()?;
                self.expect(&Token::Comma)?;
                let value = match self.unary()? {
                    Expr::Number(n) => n,
                    Expr::Neg(inner) if matches!(*inner, Expr::Number(_)) => match *inner {
                        Expr::Number(n) => -n,
                        _ => unreachable!(),
                    },
                    _ => return Err("FILL's second argument must be a number".into()),
                };
                self.expect(&Token::Close)?;
                Ok(Expr::Fill(Box::new(series), value))
            }
            Some(Token::Ident(name)) => Ok(Expr::Id(name)),
            other => Err(format!("unexpected {other:?}")),
        }
    }
}

/// Parses an expression.
pub fn parse(text: &str) -> Result<Expr, String> {
    let mut parser = Parser {
        tokens: tokens(text)?,
        at: 0,
    };
    let expr = parser.sum()?;
    if parser.at < parser.tokens.len() {
        return Err(format!(
            "unexpected {:?} in `{text}`",
            parser.tokens[parser.at]
        ));
    }
    Ok(expr)
}

/// A value during evaluation: a scalar or a series.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    Scalar(f64),
    Series(Series),
}

fn apply(op: char, a: f64, b: f64) -> Option<f64> {
    let v = match op {
        '+' => a + b,
        '-' => a - b,
        '*' => a * b,
        '/' => a / b,
        _ => return None,
    };
    v.is_finite().then_some(v)
}

/// Evaluates `expr`: `lookup` gives the series of an id; `periods` are the period starts of
/// the query's window (what FILL fills).
pub fn eval(
    expr: &Expr,
    lookup: &dyn Fn(&str) -> Option<Series>,
    periods: &[i64],
) -> Result<Val, String> {
    Ok(match expr {
        Expr::Number(n) => Val::Scalar(*n),
        Expr::Id(id) => Val::Series(lookup(id).ok_or_else(|| format!("unknown id `{id}`"))?),
        Expr::Neg(inner) => match eval(inner, lookup, periods)? {
            Val::Scalar(v) => Val::Scalar(-v),
            Val::Series(s) => Val::Series(s.into_iter().map(|(t, v)| (t, -v)).collect()),
        },
        Expr::Fill(inner, value) => match eval(inner, lookup, periods)? {
            Val::Scalar(v) => Val::Scalar(v),
            Val::Series(mut s) => {
                for t in periods {
                    s.entry(*t).or_insert(*value);
                }
                Val::Series(s)
            }
        },
        Expr::RunningSum(inner) => match eval(inner, lookup, periods)? {
            Val::Scalar(_) => return Err("RUNNING_SUM takes a time series, not a number".into()),
            Val::Series(s) => {
                let mut sum = 0.0;
                Val::Series(
                    s.into_iter()
                        .map(|(t, v)| {
                            sum += v;
                            (t, sum)
                        })
                        .collect(),
                )
            }
        },
        Expr::Binary(op, a, b) => {
            let a = eval(a, lookup, periods)?;
            let b = eval(b, lookup, periods)?;
            match (a, b) {
                (Val::Scalar(a), Val::Scalar(b)) => {
                    Val::Scalar(apply(*op, a, b).unwrap_or(f64::NAN))
                }
                (Val::Series(s), Val::Scalar(k)) => Val::Series(
                    s.into_iter()
                        .filter_map(|(t, v)| apply(*op, v, k).map(|r| (t, r)))
                        .collect(),
                ),
                (Val::Scalar(k), Val::Series(s)) => Val::Series(
                    s.into_iter()
                        .filter_map(|(t, v)| apply(*op, k, v).map(|r| (t, r)))
                        .collect(),
                ),
                (Val::Series(a), Val::Series(b)) => Val::Series(
                    a.into_iter()
                        .filter_map(|(t, x)| {
                            b.get(&t).and_then(|y| apply(*op, x, *y)).map(|r| (t, r))
                        })
                        .collect(),
                ),
            }
        }
    })
}

/// The ids an expression reads.
pub fn ids(expr: &Expr, out: &mut Vec<String>) {
    match expr {
        Expr::Number(_) => {}
        Expr::Id(id) => out.push(id.clone()),
        Expr::Neg(e) | Expr::Fill(e, _) | Expr::RunningSum(e) => ids(e, out),
        Expr::Binary(_, a, b) => {
            ids(a, out);
            ids(b, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(points: &[(i64, f64)]) -> Series {
        points.iter().copied().collect()
    }

    fn run(text: &str, periods: &[i64]) -> Result<Val, String> {
        let errors = series(&[(60, 2.0)]);
        let requests = series(&[(0, 10.0), (60, 20.0), (120, 0.0)]);
        let lookup = move |id: &str| match id {
            "errors" => Some(errors.clone()),
            "requests" => Some(requests.clone()),
            _ => None,
        };
        eval(&parse(text)?, &lookup, periods)
    }

    #[test]
    fn the_5xx_rate_of_the_alarm() {
        let rate = run("100 * FILL(errors, 0) / requests", &[0, 60, 120]).unwrap();
        // Minute 0: no 5xx, filled with 0; minute 120: no requests, no rate (not infinity).
        assert_eq!(rate, Val::Series(series(&[(0, 0.0), (60, 10.0)])));
        // Without FILL, only the minute with both.
        let bare = run("100 * errors / requests", &[0, 60, 120]).unwrap();
        assert_eq!(bare, Val::Series(series(&[(60, 10.0)])));
    }

    #[test]
    fn precedence_parentheses_and_scalars() {
        assert_eq!(run("1 + 2 * 3", &[]).unwrap(), Val::Scalar(7.0));
        assert_eq!(run("(1 + 2) * 3", &[]).unwrap(), Val::Scalar(9.0));
        assert_eq!(run("-2 - -3", &[]).unwrap(), Val::Scalar(1.0));
        assert_eq!(run("100 * 2500 / 10000", &[]).unwrap(), Val::Scalar(25.0));
        let sum = run("FILL(errors, 0) + FILL(requests, 0)", &[0, 60, 120, 180]).unwrap();
        assert_eq!(
            sum,
            Val::Series(series(&[(0, 10.0), (60, 22.0), (120, 0.0), (180, 0.0)]))
        );
    }

    #[test]
    fn running_sums_add_up_in_time_order_where_the_series_has_values() {
        let periods = [0, 60, 120, 180];
        let sum = run("RUNNING_SUM(requests)", &periods).unwrap();
        assert_eq!(
            sum,
            Val::Series(series(&[(0, 10.0), (60, 30.0), (120, 30.0)]))
        );
        // A gap stays a gap; FILL first makes it a value.
        let sparse = run("RUNNING_SUM(errors)", &periods).unwrap();
        assert_eq!(sparse, Val::Series(series(&[(60, 2.0)])));
        let filled = run("RUNNING_SUM(FILL(errors, 0))", &periods).unwrap();
        assert_eq!(
            filled,
            Val::Series(series(&[(0, 0.0), (60, 2.0), (120, 2.0), (180, 2.0)]))
        );
        // The share of bad events since the start, as the SLO dashboard computes it.
        let ratio = run(
            "100 * RUNNING_SUM(FILL(errors, 0)) / RUNNING_SUM(requests)",
            &periods,
        )
        .unwrap();
        let Val::Series(ratio) = ratio else { panic!() };
        assert_eq!(ratio[&0], 0.0);
        assert!((ratio[&60] - 100.0 * 2.0 / 30.0).abs() < 1e-12);
        assert!(run("RUNNING_SUM(2)", &periods).is_err());
        assert!(parse("RUNNING_SUM(requests, 1)").is_err());
        let mut found = Vec::new();
        ids(&parse("RUNNING_SUM(a) / b").unwrap(), &mut found);
        assert_eq!(found, ["a", "b"]);
    }

    #[test]
    fn what_is_not_supported_is_named() {
        let err = run("IF(errors > 1, 1, 0)", &[]).unwrap_err();
        assert!(err.contains("`>`") || err.contains("IF"), "{err}");
        let err = run("METRICS()", &[]).unwrap_err();
        assert!(err.contains("METRICS"), "{err}");
        assert!(run("nope + 1", &[]).unwrap_err().contains("nope"));
        assert!(parse("1 +").is_err());
        assert!(parse("(1").is_err());
        let mut found = Vec::new();
        ids(&parse("100 * FILL(a, 0) / b").unwrap(), &mut found);
        assert_eq!(found, ["a", "b"]);
    }
}
