//! The twin's standard output: lines are appended to a buffer that one writer thread empties,
//! many lines a `write`. A request's lines (its function's log line and EMF document, its
//! access-log line) would otherwise cost three system calls each; now the writer wakes when
//! the first line comes, lets the lines of the next millisecond join it and writes them all. Lines keep the order in which they were appended; a line is never split.
//!
//! A reader that stops reading holds the twin up, as a blocked pipe would: past
//! [`MAX_BUFFERED`] bytes, appending waits for the writer.

use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};

/// How long the writer lets lines gather once the first has come.
const GATHER: std::time::Duration = std::time::Duration::from_millis(1);

/// How much may wait to be written before appending waits too.
const MAX_BUFFERED: usize = 8 * 1024 * 1024;

#[derive(Default)]
struct State {
    buffer: Vec<u8>,
    /// The writer is waiting for lines: an append must wake it.
    idle: bool,
    /// The writer holds bytes it has not finished writing.
    writing: bool,
}

#[derive(Default)]
struct Output {
    state: Mutex<State>,
    /// Lines were appended to an empty buffer.
    appended: Condvar,
    /// A batch was written.
    written: Condvar,
}

impl Output {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn run(&self, mut sink: impl std::io::Write) {
        let mut spare = Vec::new();
        loop {
            {
                let mut state = self.lock();
                while state.buffer.is_empty() {
                    state.idle = true;
                    state = self.appended.wait(state).unwrap_or_else(|e| e.into_inner());
                }
            }
            // Let the lines of the next moment join the batch: a wake-up and a write a
            // millisecond at most, however many lines, rather than one per line.
            std::thread::sleep(GATHER);
            let mut batch = {
                let mut state = self.lock();
                state.idle = false;
                state.writing = true;
                std::mem::replace(&mut state.buffer, std::mem::take(&mut spare))
            };
            // Nothing to do about a closed stdout but carry on serving.
            let _ = sink.write_all(&batch);
            let _ = sink.flush();
            batch.clear();
            spare = batch;
            self.lock().writing = false;
            self.written.notify_all();
        }
    }

    /// An output writing to `sink` from its own thread, for the life of the process.
    fn start(sink: impl std::io::Write + Send + 'static) -> &'static Output {
        let output: &'static Output = Box::leak(Box::default());
        std::thread::Builder::new()
            .name("output".into())
            .spawn(move || output.run(sink))
            .expect("a thread for the twin's output");
        output
    }

    fn append(&self, parts: &[&[u8]]) {
        let mut state = self.lock();
        while state.buffer.len() > MAX_BUFFERED {
            state = self.written.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        for part in parts {
            state.buffer.extend_from_slice(part);
        }
        if state.idle {
            state.idle = false;
            self.appended.notify_one();
        }
    }

    fn flush(&self) {
        let mut state = self.lock();
        while !state.buffer.is_empty() || state.writing {
            state = self.written.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }
}

fn stdout() -> &'static Output {
    static STDOUT: OnceLock<&'static Output> = OnceLock::new();
    STDOUT.get_or_init(|| Output::start(std::io::stdout()))
}

/// Appends `parts`, one after the other with nothing between them, as one piece.
pub fn write(parts: &[&[u8]]) {
    stdout().append(parts);
}

/// Appends one line: `line` and a newline.
pub fn line(line: &str) {
    write(&[line.as_bytes(), b"\n"]);
}

/// Waits until everything appended so far is written: before the process exits.
pub fn flush() {
    stdout().flush();
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<(Vec<u8>, usize)>>);

    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let mut sink = self.0.lock().unwrap();
            sink.0.extend_from_slice(buf);
            sink.1 += 1;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_from_many_threads_arrive_whole_in_order_and_batched() {
        let sink = Sink::default();
        let output = Output::start(sink.clone());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                std::thread::spawn(move || {
                    for n in 0..10_000 {
                        let line = format!("{{\"thread\":{t},\"n\":{n}}}");
                        output.append(&[line.as_bytes(), b"\n"]);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        output.flush();
        let (bytes, writes) = sink.0.lock().unwrap().clone();
        let text = String::from_utf8(bytes).unwrap();
        let mut next = [0u64; 4];
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let t = v["thread"].as_u64().unwrap() as usize;
            assert_eq!(v["n"].as_u64().unwrap(), next[t], "thread {t} out of order");
            next[t] += 1;
        }
        assert_eq!(next, [10_000; 4]);
        assert!(writes < 40_000, "{writes} writes for 40,000 lines");
    }

    #[test]
    fn flush_returns_at_once_when_nothing_waits() {
        let output = Output::start(Sink::default());
        output.flush();
        output.append(&[b"one\n"]);
        output.flush();
        output.flush();
    }
}
