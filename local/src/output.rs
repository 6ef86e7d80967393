//! The twin's standard output. One thread owns stdout: the others send it whole lines through
//! a bounded channel, so a line is never split or mixed with another, the lines of a thread
//! keep their order, and the async workers never wait on the terminal. The writer buffers what
//! it receives and flushes whenever the channel is momentarily empty, then lets a millisecond's
//! lines gather before it looks again.
//!
//! A reader that stops reading holds the twin up, as a blocked pipe would: once
//! [`CAPACITY`] pieces wait in the channel, sending waits for the writer.

use std::io::{BufWriter, Write};
use std::sync::OnceLock;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// How many pieces may wait for the writer before senders wait too.
const CAPACITY: usize = 4096;

/// How long the writer lets lines gather after a write before it waits for the next.
const GATHER: std::time::Duration = std::time::Duration::from_millis(1);

enum Message {
    Bytes(Vec<u8>),
    /// Everything sent before is written: say so on this channel.
    Flush(SyncSender<()>),
}

struct Output(SyncSender<Message>);

impl Output {
    /// An output writing to `sink` from its own thread, for the life of the process.
    fn start(sink: impl Write + Send + 'static) -> Output {
        let (sender, messages) = sync_channel(CAPACITY);
        std::thread::Builder::new()
            .name("output".into())
            .spawn(move || run(&messages, sink))
            .expect("a thread for the twin's output");
        Output(sender)
    }

    fn write(&self, parts: &[&[u8]]) {
        // The writer outlives every sender unless it panicked; then there is nowhere to write.
        let _ = self.0.send(Message::Bytes(parts.concat()));
    }

    fn flush(&self) {
        let (done, written) = sync_channel(1);
        if self.0.send(Message::Flush(done)).is_ok() {
            let _ = written.recv();
        }
    }
}

fn run(messages: &Receiver<Message>, sink: impl Write) {
    let mut sink = BufWriter::new(sink);
    let mut next = messages.recv();
    while let Ok(message) = next {
        // Nothing to do about a closed stdout but carry on serving.
        match message {
            Message::Bytes(bytes) => {
                let _ = sink.write_all(&bytes);
            }
            Message::Flush(done) => {
                let _ = sink.flush();
                let _ = done.send(());
            }
        }
        // Flush when nothing more waits: a reader sees each line at once, and under load
        // many lines go out in one write. Then let the next lines gather before waiting for
        // them: a writer woken for each line costs a context switch a line (on two cores,
        // `GET /public` fell from 0.44x to 0.27x of the load bench's ceiling).
        next = messages.try_recv().or_else(|_| {
            let _ = sink.flush();
            std::thread::sleep(GATHER);
            messages.recv()
        });
    }
}

fn stdout() -> &'static Output {
    static STDOUT: OnceLock<Output> = OnceLock::new();
    STDOUT.get_or_init(|| Output::start(std::io::stdout()))
}

/// Writes `parts`, one after the other with nothing between them, as one piece.
pub fn write(parts: &[&[u8]]) {
    stdout().write(parts);
}

/// Writes one line: `line` and a newline.
pub fn line(line: &str) {
    write(&[line.as_bytes(), b"\n"]);
}

/// Waits until everything written so far is out: before the process exits.
pub fn flush() {
    stdout().flush();
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::*;

    /// Keeps what is written, taking at most `MAX_WRITE` bytes a call (as a pipe may), after
    /// waiting for `gate` to be open.
    #[derive(Clone, Default)]
    struct Sink {
        bytes: Arc<Mutex<Vec<u8>>>,
        gate: Arc<Mutex<()>>,
        delay: Duration,
    }

    const MAX_WRITE: usize = 1000;

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let _open = self.gate.lock().unwrap();
            std::thread::sleep(self.delay);
            let n = buf.len().min(MAX_WRITE);
            self.bytes.lock().unwrap().extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Sink {
        fn text(&self) -> String {
            String::from_utf8(self.bytes.lock().unwrap().clone()).unwrap()
        }
    }

    #[test]
    fn lines_from_many_threads_come_out_whole_and_in_order_once_flushed() {
        let sink = Sink::default();
        let output = Output::start(sink.clone());
        std::thread::scope(|scope| {
            for t in 0..4 {
                let output = &output;
                scope.spawn(move || {
                    for n in 0..5_000 {
                        // Some lines longer than a write the sink takes at once.
                        let pad = "x".repeat(n % 3 * MAX_WRITE);
                        let line = format!("{{\"thread\":{t},\"n\":{n},\"pad\":\"{pad}\"}}");
                        output.write(&[line.as_bytes(), b"\n"]);
                    }
                });
            }
        });
        output.flush();
        let mut next = [0usize; 4];
        for line in sink.text().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let t = v["thread"].as_u64().unwrap() as usize;
            let n = next[t];
            assert_eq!(
                v["n"].as_u64().unwrap() as usize,
                n,
                "thread {t} out of order"
            );
            assert_eq!(v["pad"].as_str().unwrap().len(), n % 3 * MAX_WRITE);
            next[t] += 1;
        }
        assert_eq!(next, [5_000; 4]);
    }

    #[test]
    fn flush_waits_for_a_slow_sink() {
        let sink = Sink {
            delay: Duration::from_millis(20),
            ..Sink::default()
        };
        let output = Output::start(sink.clone());
        for n in 0..5 {
            output.write(&[format!("{n}\n").as_bytes()]);
        }
        output.flush();
        assert_eq!(sink.text(), "0\n1\n2\n3\n4\n");
        output.flush();
    }

    #[test]
    fn a_line_comes_out_without_a_flush() {
        let sink = Sink::default();
        let output = Output::start(sink.clone());
        output.write(&[b"one\n"]);
        let mut waited = Duration::ZERO;
        while sink.text() != "one\n" {
            assert!(
                waited < Duration::from_secs(5),
                "the line was never written"
            );
            std::thread::sleep(Duration::from_millis(1));
            waited += Duration::from_millis(1);
        }
    }

    #[test]
    fn a_sink_that_stops_taking_lines_holds_the_senders_up() {
        let sink = Sink::default();
        let closed = sink.gate.lock().unwrap();
        let output = Output::start(sink.clone());
        let sent = AtomicBool::new(false);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                // More than the channel and the writer's buffer hold together.
                for _ in 0..2 * CAPACITY {
                    output.write(&[&[b'x'; 99], b"\n"]);
                }
                sent.store(true, Ordering::SeqCst);
            });
            std::thread::sleep(Duration::from_millis(100));
            assert!(!sent.load(Ordering::SeqCst), "sent without bound");
            drop(closed);
        });
        output.flush();
        assert_eq!(sink.text().len(), 2 * CAPACITY * 100);
    }
}
