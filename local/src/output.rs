//! The twin's standard output: lines are appended to buffers that one writer thread empties,
//! many lines a `write`. A request's lines (its function's log line and EMF document, its
//! access-log line) would otherwise cost three system calls each; now the writer wakes when
//! the first line comes, lets the lines of the next millisecond join it and writes them all.
//! A line is never split, and the lines of a thread keep the order in which it appended them.
//!
//! Each thread appends to a buffer of its own (every request appends three times, and one
//! buffer behind one lock would move between the workers' cores each time); the writer takes
//! them one after the other, so lines of different threads within a millisecond come out
//! grouped by thread.
//!
//! A reader that stops reading holds the twin up, as a blocked pipe would: past
//! [`MAX_BUFFERED`] bytes in a thread's buffer, appending waits for the writer.

use std::sync::atomic::{AtomicBool, Ordering, fence};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use crate::per_thread::PerThread;

/// How long the writer lets lines gather once the first has come.
const GATHER: Duration = Duration::from_millis(1);

/// How much may wait in one thread's buffer before its appending waits too.
const MAX_BUFFERED: usize = 8 * 1024 * 1024;

/// How long a waiting appender or flush sleeps before it looks again.
const RECHECK: Duration = Duration::from_millis(10);

#[derive(Default)]
struct Output {
    buffers: PerThread<Vec<u8>>,
    /// The writer waits for lines: an append must wake it. Read by every append, written
    /// only when the writer goes to sleep or is woken.
    idle: AtomicBool,
    /// The writer holds bytes it has not finished writing.
    writing: Mutex<bool>,
    /// Lines were appended while the writer was idle.
    appended: Condvar,
    /// A batch was written.
    written: Condvar,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Output {
    fn pending(&self) -> bool {
        self.buffers.each().any(|buffer| !buffer.is_empty())
    }

    fn run(&self, mut sink: impl std::io::Write) {
        let mut batch = Vec::new();
        loop {
            {
                let mut writing = lock(&self.writing);
                loop {
                    // Idle first, then look: an append either sees `idle` and wakes the
                    // writer, or appended before the look and is found by it.
                    self.idle.store(true, Ordering::SeqCst);
                    fence(Ordering::SeqCst);
                    if self.pending() {
                        self.idle.store(false, Ordering::SeqCst);
                        break;
                    }
                    writing = self
                        .appended
                        .wait(writing)
                        .unwrap_or_else(|e| e.into_inner());
                }
                *writing = true;
            }
            // Let the lines of the next moment join the batch: a wake-up and a write a
            // millisecond at most, however many lines, rather than one per line.
            std::thread::sleep(GATHER);
            for mut buffer in self.buffers.each() {
                batch.extend_from_slice(&buffer);
                buffer.clear();
            }
            // Nothing to do about a closed stdout but carry on serving.
            let _ = sink.write_all(&batch);
            let _ = sink.flush();
            batch.clear();
            *lock(&self.writing) = false;
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
        let mut buffer = self.buffers.mine();
        while buffer.len() > MAX_BUFFERED {
            drop(buffer);
            self.wake();
            let writing = lock(&self.writing);
            drop(self.written.wait_timeout(writing, RECHECK));
            buffer = self.buffers.mine();
        }
        for part in parts {
            buffer.extend_from_slice(part);
        }
        drop(buffer);
        fence(Ordering::SeqCst);
        if self.idle.load(Ordering::SeqCst) {
            self.wake();
        }
    }

    /// Wakes the writer if it waits for lines.
    fn wake(&self) {
        let _writing = lock(&self.writing);
        if self.idle.swap(false, Ordering::SeqCst) {
            self.appended.notify_one();
        }
    }

    fn flush(&self) {
        loop {
            self.wake();
            let writing = lock(&self.writing);
            if !*writing && !self.pending() {
                return;
            }
            drop(self.written.wait_timeout(writing, RECHECK));
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
    fn a_line_appended_while_the_writer_goes_idle_still_comes_out() {
        // Each line is appended around the moment the writer finds nothing and sleeps; it
        // must wake for it without a flush (a lost wake-up would leave the line waiting).
        let sink = Sink::default();
        let output = Output::start(sink.clone());
        let mut rng = fastrand::Rng::with_seed(3);
        for n in 0..300u32 {
            std::thread::sleep(Duration::from_micros(rng.u64(900..1300)));
            let line = format!("{n}\n");
            let appender = std::thread::spawn(move || output.append(&[line.as_bytes()]));
            appender.join().unwrap();
            let expected = format!("{n}\n");
            let mut waited = Duration::ZERO;
            while !String::from_utf8_lossy(&sink.0.lock().unwrap().0).ends_with(&expected) {
                assert!(waited < Duration::from_secs(5), "line {n} never written");
                std::thread::sleep(Duration::from_micros(200));
                waited += Duration::from_micros(200);
            }
        }
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
