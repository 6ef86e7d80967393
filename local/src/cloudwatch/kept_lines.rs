//! The latest log lines the twin wrote that it can see (access log, the functions' lines and
//! EMF documents), each under its log group: what the console's request-id search and the
//! Logs Insights widgets read.
//!
//! Every request keeps a few lines, from whichever worker runs it. Each thread appends to its
//! own part, and there one line after another into large buffers: a line's copy lands next to
//! the one before, in memory the core has just written, rather than in a buffer of its own
//! somewhere in the heap. Once a part holds enough lines its oldest buffer is emptied and
//! reused. Reads merge the parts by the time each line was kept.
//!
//! How many lines a part keeps is what its memory costs in the core's cache: every line is
//! copied into memory last written [`KEPT_LOG_LINES`] lines before. At 4,000 lines (about
//! 1.5 MB) a part stays in a core's second-level cache; at 20,000 it did not, and the misses
//! of those copies cost 3 % of a `GET /public` (alternating runs).

use std::collections::VecDeque;
use std::time::Instant;

use crate::per_thread::PerThread;

/// How many lines the search reads: the latest this many of each thread that writes them
/// (with the twin's two serving threads, the latest 8,000 or so).
pub const KEPT_LOG_LINES: usize = 4_000;

/// The size of one buffer of lines (a longer line has a buffer of its own).
const CHUNK_BYTES: usize = 64 * 1024;

pub struct KeptLines {
    parts: PerThread<Lines>,
    /// Lines are ordered across parts by the nanoseconds since this.
    epoch: Instant,
}

impl Default for KeptLines {
    fn default() -> Self {
        Self {
            parts: PerThread::default(),
            epoch: Instant::now(),
        }
    }
}

/// One thread's lines, oldest first.
#[derive(Default)]
struct Lines {
    /// A twin writes to a few groups: each name kept once, lines hold its index.
    groups: Vec<Box<str>>,
    chunks: VecDeque<Chunk>,
    /// How many lines the chunks hold.
    count: usize,
    /// The last chunk emptied, for the next one.
    spare: Option<Chunk>,
}

#[derive(Default)]
struct Chunk {
    text: String,
    /// Each line's end in `text`; it starts where the one before ends.
    lines: Vec<Line>,
}

struct Line {
    kept_at: u64,
    group: u16,
    end: u32,
}

impl Lines {
    fn group(&mut self, name: &str) -> u16 {
        let index = match self.groups.iter().position(|g| **g == *name) {
            Some(index) => index,
            None => {
                self.groups.push(name.into());
                self.groups.len() - 1
            }
        };
        u16::try_from(index).expect("a twin writes to a few log groups")
    }

    fn push(&mut self, kept_at: u64, group: &str, line: &str) {
        let group = self.group(group);
        let full = self
            .chunks
            .back()
            .is_none_or(|c| !c.text.is_empty() && c.text.len() + line.len() > CHUNK_BYTES);
        if full {
            let chunk = self.spare.take().unwrap_or_else(|| Chunk {
                text: String::with_capacity(CHUNK_BYTES),
                lines: Vec::new(),
            });
            self.chunks.push_back(chunk);
        }
        let chunk = self.chunks.back_mut().expect("a chunk was pushed");
        chunk.text.push_str(line);
        chunk.lines.push(Line {
            kept_at,
            group,
            end: u32::try_from(chunk.text.len()).expect("a chunk holds under 4 GiB"),
        });
        self.count += 1;
        // Drop the oldest chunk only while the rest still hold enough lines.
        while self.chunks.len() > 1 && self.count - self.chunks[0].lines.len() >= KEPT_LOG_LINES {
            let mut oldest = self.chunks.pop_front().expect("more than one chunk");
            self.count -= oldest.lines.len();
            oldest.text.clear();
            oldest.lines.clear();
            self.spare = Some(oldest);
        }
    }

    /// `(kept_at, group, line)` of every line, oldest first.
    fn each(&self) -> impl Iterator<Item = (u64, &str, &str)> {
        self.chunks.iter().flat_map(move |chunk| {
            let mut start = 0;
            chunk.lines.iter().map(move |line| {
                let text = &chunk.text[start..line.end as usize];
                start = line.end as usize;
                (line.kept_at, &*self.groups[usize::from(line.group)], text)
            })
        })
    }
}

impl KeptLines {
    /// Keeps `line` under `group`.
    pub fn keep(&self, group: &str, line: &str) {
        let kept_at = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.parts.mine().push(kept_at, group, line);
    }

    /// Calls `f(group, line)` for each of the latest [`KEPT_LOG_LINES`] lines of each part,
    /// oldest first. Writers wait meanwhile.
    pub fn visit(&self, mut f: impl FnMut(&str, &str)) {
        let parts: Vec<_> = self.parts.each().collect();
        let mut all: Vec<(u64, &str, &str)> = parts
            .iter()
            .flat_map(|part| part.each().skip(part.count.saturating_sub(KEPT_LOG_LINES)))
            .collect();
        // Stable: a part's lines kept in the same nanosecond stay in their order.
        all.sort_by_key(|(kept_at, _, _)| *kept_at);
        for (_, group, line) in &all {
            f(group, line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(lines: &KeptLines) -> Vec<(String, String)> {
        let mut out = Vec::new();
        lines.visit(|group, line| out.push((group.to_owned(), line.to_owned())));
        out
    }

    #[test]
    fn the_latest_lines_are_kept_whole_across_chunks() {
        let lines = KeptLines::default();
        // A line longer than a chunk has one of its own.
        let long = "x".repeat(CHUNK_BYTES + 10);
        lines.keep("long", &long);
        let group = |n: usize| if n.is_multiple_of(3) { "a" } else { "b" };
        for n in 0..KEPT_LOG_LINES + 2_000 {
            lines.keep(group(n), &format!("line {n}"));
        }
        let all = kept(&lines);
        assert_eq!(all.len(), KEPT_LOG_LINES);
        assert_eq!(all[0], (group(2000).to_owned(), "line 2000".to_owned()));
        let last = KEPT_LOG_LINES + 1_999;
        assert_eq!(
            all[KEPT_LOG_LINES - 1],
            (group(last).to_owned(), format!("line {last}"))
        );
        // No more than a chunk's worth of lines beyond the kept ones is held.
        let part = lines.parts.each().map(|p| p.count).max().unwrap();
        assert!(part < KEPT_LOG_LINES + CHUNK_BYTES / 5, "{part}");
    }

    #[test]
    fn lines_of_several_threads_are_read_in_the_order_they_were_kept() {
        let lines = KeptLines::default();
        std::thread::scope(|scope| {
            for thread in 0..4 {
                let lines = &lines;
                scope.spawn(move || {
                    for n in 0..100 {
                        lines.keep(&format!("group-{thread}"), &format!("{thread} {n}"));
                    }
                });
            }
        });
        let all = kept(&lines);
        assert_eq!(all.len(), 400);
        for thread in 0..4 {
            let own: Vec<_> = all
                .iter()
                .filter(|(group, _)| *group == format!("group-{thread}"))
                .map(|(_, line)| line.clone())
                .collect();
            let expected: Vec<_> = (0..100).map(|n| format!("{thread} {n}")).collect();
            assert_eq!(own, expected);
        }
        // Each thread's part keeps its own latest lines, whatever the others wrote.
        std::thread::scope(|scope| {
            scope.spawn(|| {
                for n in 0..KEPT_LOG_LINES + 10 {
                    lines.keep("busy", &format!("busy {n}"));
                }
            });
        });
        let all = kept(&lines);
        let busy = all.iter().filter(|(group, _)| group == "busy").count();
        assert_eq!(busy, KEPT_LOG_LINES);
        assert_eq!(all.len(), KEPT_LOG_LINES + 400);
        // Kept after all of them: read last.
        lines.keep("last", "last");
        assert_eq!(kept(&lines).last().unwrap().1, "last");
    }
}
