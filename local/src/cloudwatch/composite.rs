//! Composite alarms, as CloudWatch evaluates them: an alarm rule over other alarms' states,
//! `ALARM(name)`, `OK(name)`, `INSUFFICIENT_DATA(name)`, `TRUE` and `FALSE`, joined with
//! `AND`, `OR` and `NOT` and grouped with parentheses. A name may be quoted (`"name"`) or
//! not, or be the alarm's ARN. The rule being TRUE puts the composite in ALARM, FALSE in OK:
//! a composite is INSUFFICIENT_DATA only from its creation to its first evaluation (a child in
//! INSUFFICIENT_DATA makes `ALARM(child)` FALSE, not the composite unknown).

use super::alarms::State;

#[derive(Clone, Debug, PartialEq)]
pub enum Rule {
    Const(bool),
    /// The named alarm is in this state.
    Is(State, String),
    Not(Box<Rule>),
    And(Box<Rule>, Box<Rule>),
    Or(Box<Rule>, Box<Rule>),
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Open,
    Close,
}

fn tokens(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                out.push(Token::Open);
            }
            ')' => {
                chars.next();
                out.push(Token::Close);
            }
            '"' => {
                chars.next();
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some(c) => name.push(c),
                        None => return Err("an unclosed `\"` in the alarm rule".into()),
                    }
                }
                out.push(Token::Quoted(name));
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || c == '(' || c == ')' || c == '"' {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                out.push(Token::Word(word));
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
    fn peek_word(&self, word: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Word(w)) if w == word)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    // CloudWatch gives AND and OR no precedence over each other that its documentation
    // states; the twin binds NOT tightest, then AND, then OR, as boolean algebra does, and
    // the rules of this repository group with parentheses wherever they mix the two.
    fn or(&mut self) -> Result<Rule, String> {
        let mut left = self.and()?;
        while self.peek_word("OR") {
            self.at += 1;
            left = Rule::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Rule, String> {
        let mut left = self.not()?;
        while self.peek_word("AND") {
            self.at += 1;
            left = Rule::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Rule, String> {
        if self.peek_word("NOT") {
            self.at += 1;
            return Ok(Rule::Not(Box::new(self.not()?)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Rule, String> {
        match self.next() {
            Some(Token::Open) => {
                let rule = self.or()?;
                match self.next() {
                    Some(Token::Close) => Ok(rule),
                    other => Err(format!("expected `)`, found {other:?}")),
                }
            }
            Some(Token::Word(w)) if w == "TRUE" => Ok(Rule::Const(true)),
            Some(Token::Word(w)) if w == "FALSE" => Ok(Rule::Const(false)),
            Some(Token::Word(function)) => {
                let state = match function.as_str() {
                    "ALARM" => State::Alarm,
                    "OK" => State::Ok,
                    "INSUFFICIENT_DATA" => State::InsufficientData,
                    other => {
                        return Err(format!(
                            "`{other}` is not an alarm rule function (ALARM, OK, INSUFFICIENT_DATA, TRUE, FALSE)"
                        ));
                    }
                };
                if self.next() != Some(Token::Open) {
                    return Err(format!("`{function}` without `(`"));
                }
                let name = match self.next() {
                    Some(Token::Word(n) | Token::Quoted(n)) if !n.is_empty() => n,
                    other => return Err(format!("`{function}(` needs an alarm, found {other:?}")),
                };
                if self.next() != Some(Token::Close) {
                    return Err(format!("`{function}({name}` without `)`"));
                }
                Ok(Rule::Is(state, alarm_name(&name).to_owned()))
            }
            other => Err(format!("unexpected {other:?} in the alarm rule")),
        }
    }
}

/// The alarm's name, from its name or ARN (`arn:aws:cloudwatch:region:account:alarm:name`).
fn alarm_name(reference: &str) -> &str {
    match reference.split_once(":alarm:") {
        Some((arn, name)) if arn.starts_with("arn:") => name,
        _ => reference,
    }
}

/// Parses an alarm rule.
pub fn parse(text: &str) -> Result<Rule, String> {
    let mut parser = Parser {
        tokens: tokens(text)?,
        at: 0,
    };
    let rule = parser.or()?;
    if parser.at < parser.tokens.len() {
        return Err(format!(
            "unexpected {:?} in the alarm rule `{text}`",
            parser.tokens[parser.at]
        ));
    }
    Ok(rule)
}

impl Rule {
    /// Whether the rule holds, `state_of` giving each named alarm's state.
    pub fn holds(&self, state_of: &dyn Fn(&str) -> Option<State>) -> bool {
        match self {
            Rule::Const(b) => *b,
            Rule::Is(state, name) => state_of(name) == Some(*state),
            Rule::Not(r) => !r.holds(state_of),
            Rule::And(a, b) => a.holds(state_of) && b.holds(state_of),
            Rule::Or(a, b) => a.holds(state_of) || b.holds(state_of),
        }
    }

    /// The rule with `prefix` taken off every alarm name that has it: the twin names its
    /// alarms without the stack's prefix that Terraform's names and rules carry.
    pub fn without_prefix(self, prefix: &str) -> Rule {
        match self {
            Rule::Is(state, name) => {
                let name = name
                    .strip_prefix(prefix)
                    .map_or(name.clone(), str::to_owned);
                Rule::Is(state, name)
            }
            Rule::Not(r) => Rule::Not(Box::new(r.without_prefix(prefix))),
            Rule::And(a, b) => Rule::And(
                Box::new(a.without_prefix(prefix)),
                Box::new(b.without_prefix(prefix)),
            ),
            Rule::Or(a, b) => Rule::Or(
                Box::new(a.without_prefix(prefix)),
                Box::new(b.without_prefix(prefix)),
            ),
            c @ Rule::Const(_) => c,
        }
    }

    /// The alarms the rule names, in order.
    pub fn children(&self, out: &mut Vec<String>) {
        match self {
            Rule::Const(_) => {}
            Rule::Is(_, name) => {
                if !out.contains(name) {
                    out.push(name.clone());
                }
            }
            Rule::Not(r) => r.children(out),
            Rule::And(a, b) | Rule::Or(a, b) => {
                a.children(out);
                b.children(out);
            }
        }
    }
}

/// A composite alarm: name, description, runbook and rule.
#[derive(Clone, Debug)]
pub struct CompositeDef {
    pub name: String,
    pub description: String,
    pub runbook: String,
    /// As written, for the console.
    pub rule_text: String,
    pub rule: Rule,
}

impl CompositeDef {
    pub fn new(name: &str, description: &str, runbook: &str, rule: &str) -> Result<Self, String> {
        Ok(Self {
            name: name.to_owned(),
            description: description.to_owned(),
            runbook: runbook.to_owned(),
            rule_text: rule.to_owned(),
            rule: parse(rule).map_err(|e| format!("composite alarm {name}: {e}"))?,
        })
    }

    /// The state the rule gives, with its reason: the children and their states, as the
    /// reason CloudWatch writes lists the alarms that triggered the change.
    pub fn decide(&self, state_of: &dyn Fn(&str) -> Option<State>) -> (State, String) {
        let holds = self.rule.holds(state_of);
        let mut children = Vec::new();
        self.rule.children(&mut children);
        let listed: Vec<String> = children
            .iter()
            .map(|c| {
                let state = state_of(c).map_or("unknown (no such alarm)", State::as_str);
                format!("{c} is {state}")
            })
            .collect();
        let state = if holds { State::Alarm } else { State::Ok };
        let reason = format!(
            "Alarm rule {} evaluated to {}: {}.",
            self.rule_text,
            if holds { "TRUE" } else { "FALSE" },
            listed.join(", ")
        );
        (state, reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn states(pairs: &'static [(&'static str, State)]) -> impl Fn(&str) -> Option<State> {
        move |name| pairs.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
    }

    #[test]
    fn the_documented_syntax() {
        let s = states(&[
            ("cpu", State::Alarm),
            ("disk", State::Ok),
            ("deploy", State::InsufficientData),
        ]);
        let holds = |rule: &str| parse(rule).unwrap().holds(&s);
        assert!(holds("ALARM(cpu)"));
        assert!(!holds("ALARM(cpu) AND ALARM(disk)"));
        assert!(holds("ALARM(cpu) OR ALARM(disk)"));
        assert!(holds("ALARM(\"cpu\") AND NOT ALARM(deploy)"));
        assert!(holds("OK(disk) AND INSUFFICIENT_DATA(deploy)"));
        assert!(holds(
            "(ALARM(disk) OR ALARM(cpu)) AND OK(arn:aws:cloudwatch:eu-west-1:123:alarm:disk)"
        ));
        assert!(holds("TRUE") && !holds("FALSE") && holds("NOT FALSE"));
        // NOT binds tighter than AND, AND than OR.
        assert!(holds("ALARM(disk) AND ALARM(cpu) OR TRUE"));
        assert!(!holds("ALARM(disk) AND (ALARM(cpu) OR TRUE)"));
        assert!(!holds("NOT ALARM(cpu) OR ALARM(disk)"));
        // A child that does not exist is in no state.
        assert!(!holds("ALARM(nope)") && !holds("OK(nope)"));
    }

    #[test]
    fn malformed_rules_are_refused_with_what_is_wrong() {
        for (rule, says) in [
            ("ALARM(a) AND", "unexpected None"),
            ("ALARM(a", "without `)`"),
            ("WARN(a)", "not an alarm rule function"),
            ("ALARM()", "needs an alarm"),
            ("ALARM(\"a)", "unclosed"),
            ("ALARM(a) ALARM(b)", "unexpected"),
        ] {
            let err = parse(rule).unwrap_err();
            assert!(err.contains(says), "{rule}: {err}");
        }
    }

    #[test]
    fn the_state_follows_the_rule_and_the_reason_names_the_children() {
        let def = CompositeDef::new("c", "", "", "ALARM(long) AND ALARM(short)").unwrap();
        let (state, reason) = def.decide(&states(&[
            ("long", State::Alarm),
            ("short", State::InsufficientData),
        ]));
        assert_eq!(state, State::Ok, "INSUFFICIENT_DATA is not ALARM");
        assert!(
            reason.contains("evaluated to FALSE")
                && reason.contains("long is ALARM, short is INSUFFICIENT_DATA"),
            "{reason}"
        );
        let (state, _) = def.decide(&states(&[("long", State::Alarm), ("short", State::Alarm)]));
        assert_eq!(state, State::Alarm);
    }
}
