//! A script taken apart as the shell reads it: lines (continued, or with a quote open, they go
//! on), then simple commands with their words unquoted. Enough of the shell's grammar for the
//! commands the pages show; not a shell.

/// `NAME=value`, a setting before a command or a variable set on its own.
pub(super) fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// The command lines of a script, each with its offset from the script's first line: a line
/// ended by `\`, or with a quote still open, goes on into the next; comments and blank lines
/// are left out.
pub fn command_lines(script: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    let (mut line, mut start) = (0, 0);
    let mut quote: Option<char> = None;
    let mut chars = script.chars().peekable();
    let mut finish = |current: &mut String, start: usize| {
        let text = current.trim();
        if !text.is_empty() {
            out.push((start, text.to_owned()));
        }
        current.clear();
    };
    while let Some(c) = chars.next() {
        if current.trim().is_empty() {
            start = line;
        }
        match (quote, c) {
            (None, '\\') if chars.peek() == Some(&'\n') => {
                chars.next();
                line += 1;
                current.push(' ');
            }
            (None | Some('"'), '\\') => {
                current.push(c);
                if let Some(next) = chars.next() {
                    line += usize::from(next == '\n');
                    current.push(next);
                }
            }
            (None, '\'' | '"') => {
                quote = Some(c);
                current.push(c);
            }
            (Some(open), _) if c == open => {
                quote = None;
                current.push(c);
            }
            (None, '#') if current.is_empty() || current.ends_with(char::is_whitespace) => {
                // A comment runs to the end of the line.
                while chars.next_if(|next| *next != '\n').is_some() {}
            }
            (None, '\n') => {
                finish(&mut current, start);
                line += 1;
            }
            (Some(_), '\n') => {
                line += 1;
                current.push(c);
            }
            _ => current.push(c),
        }
    }
    finish(&mut current, start);
    out
}

/// The simple commands of a command line, each as its words with the quotes taken off: the
/// line is cut at `|`, `||`, `&&`, `;`, `&` and parentheses, a `$(…)` inside a word is a
/// command of its own (the word keeps `$(…)` in its place), and the settings and the shell's
/// keywords before a command (`do`, `then`, `NAME=value`) are left out. `for NAME in WORDS`
/// and the words that close a compound command (`done`, `fi`) are no commands at all.
pub fn simple_commands(line: &str) -> Vec<Vec<String>> {
    let mut splitter = Splitter {
        chars: line.chars().collect(),
        pos: 0,
        out: Vec::new(),
    };
    splitter.list(false);
    splitter
        .out
        .into_iter()
        .filter_map(|words| {
            let words: Vec<String> = words
                .into_iter()
                .skip_while(|w| {
                    is_assignment(w) || ["do", "then", "else", "!"].contains(&w.as_str())
                })
                .collect();
            let first = words.first()?;
            let syntax = ["for", "in", "done", "fi", "esac", "{", "}"];
            (!syntax.contains(&first.as_str())).then_some(words)
        })
        .collect()
}

struct Splitter {
    chars: Vec<char>,
    pos: usize,
    out: Vec<Vec<String>>,
}

impl Splitter {
    fn next(&mut self) -> Option<char> {
        let c = self.chars.get(self.pos).copied();
        self.pos += 1;
        c
    }

    /// Reads commands up to the end, or up to the `)` that closes a `$(` when `nested`.
    fn list(&mut self, nested: bool) {
        let mut words: Vec<String> = Vec::new();
        let mut word: Option<String> = None;
        let end_word = |words: &mut Vec<String>, word: &mut Option<String>| {
            words.extend(word.take());
        };
        let end_command = |out: &mut Vec<Vec<String>>, words: &mut Vec<String>| {
            if !words.is_empty() {
                out.push(std::mem::take(words));
            }
        };
        while let Some(c) = self.next() {
            match c {
                c if c.is_whitespace() => end_word(&mut words, &mut word),
                '\'' => {
                    let w = word.get_or_insert_default();
                    while let Some(q) = self.next().filter(|q| *q != '\'') {
                        w.push(q);
                    }
                }
                '"' => {
                    let w = word.get_or_insert_default();
                    while let Some(q) = self.next().filter(|q| *q != '"') {
                        if q == '\\'
                            && matches!(self.chars.get(self.pos), Some('"' | '\\' | '$' | '`'))
                        {
                            w.extend(self.next());
                        } else {
                            w.push(q);
                        }
                    }
                }
                '\\' => word.get_or_insert_default().extend(self.next()),
                '$' if self.chars.get(self.pos) == Some(&'(') => {
                    self.pos += 1;
                    word.get_or_insert_default().push_str("$(…)");
                    self.list(true);
                }
                '&' if word.as_ref().is_some_and(|w| w.ends_with(['>', '<'])) => {
                    word.get_or_insert_default().push(c);
                }
                ')' if nested => break,
                '|' | '&' | ';' | '(' | ')' | '`' => {
                    end_word(&mut words, &mut word);
                    end_command(&mut self.out, &mut words);
                }
                _ => word.get_or_insert_default().push(c),
            }
        }
        end_word(&mut words, &mut word);
        end_command(&mut self.out, &mut words);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_join_continued_lines_and_open_quotes() {
        let script =
            "A=1 # set\n\ncurl -s \\\n  \"$TWIN/x\"\naws x --entries '[{\n  \"a\": 1}]'\ndone\n";
        let lines = command_lines(script);
        assert_eq!(
            lines,
            vec![
                (0, "A=1".to_owned()),
                (2, "curl -s    \"$TWIN/x\"".to_owned()),
                (4, "aws x --entries '[{\n  \"a\": 1}]'".to_owned()),
                (6, "done".to_owned()),
            ]
        );
    }

    #[test]
    fn simple_commands_split_pipelines_and_substitutions() {
        let words = |s: &str| s.split(' ').map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(
            simple_commands(
                r#"ID=$(curl -s "$TWIN/public" | tr -d '\r') && grep -F "\"$ID\"" f 2>&1"#
            ),
            vec![
                words("curl -s $TWIN/public"),
                words("tr -d \\r"),
                words("grep -F \"$ID\" f 2>&1"),
            ]
        );
        assert_eq!(
            simple_commands("for i in $(seq 1 2); do curl -s x; done | sort"),
            vec![words("seq 1 2"), words("curl -s x"), words("sort")]
        );
        assert_eq!(
            simple_commands("aws events start-replay --replay-name r-$(date +%Y) --rule x"),
            vec![
                words("date +%Y"),
                words("aws events start-replay --replay-name r-$(…) --rule x"),
            ]
        );
    }
}
