//! What the process itself tells about its cost, for the summary line: `init_ms` on a cold
//! start and `max_memory_mb`. With Lambda's system log level at WARN the platform's `REPORT`
//! line (`@initDuration`, `@maxMemoryUsed`) is not written, so the function's own line
//! carries them. Read from Linux's `/proc` (proc(5)); absent where it cannot be read.

use std::io::Read;

/// The kernel's clock ticks a second for `/proc`'s times (`USER_HZ`, what
/// `sysconf(_SC_CLK_TCK)` answers): 100 on x86_64 and arm64, Lambda's architectures.
const TICKS_A_SECOND: f64 = 100.0;

/// Milliseconds from the process's start to now: on the first invocation, the time the
/// function took to start (the runtime's start, the binary's own set-up, the wait for the
/// first event). To 10 ms, the resolution of `/proc`'s clock.
pub(crate) fn age_ms() -> Option<f64> {
    // `pid (comm) state …`: `comm` may hold spaces and parentheses, so count from the last
    // `)`. `starttime` is the 22nd field, the 20th after it.
    let start_ticks: f64 = read_small("/proc/self/stat", |stat| {
        let after_comm = &stat[stat.rfind(')')? + 1..];
        after_comm.split_whitespace().nth(19)?.parse().ok()
    })?;
    let uptime_s: f64 = read_small("/proc/uptime", |uptime| {
        uptime.split_whitespace().next()?.parse().ok()
    })?;
    let ms = (uptime_s - start_ticks / TICKS_A_SECOND) * 1000.0;
    // Whole milliseconds: the clock's ticks are 10 ms, anything finer is noise.
    (ms >= 0.0).then(|| ms.round())
}

/// The process's peak resident set (`VmHWM`, in kB, of `/proc/self/status`), in MB of
/// 1024 kB, as Lambda counts a function's memory size; rounded up.
pub(crate) fn max_memory_mb() -> Option<u64> {
    let kb: u64 = read_small("/proc/self/status", |status| {
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        line["VmHWM:".len()..]
            .trim()
            .strip_suffix("kB")?
            .trim()
            .parse()
            .ok()
    })?;
    Some(kb.div_ceil(1024))
}

/// `read` of a `/proc` file of a few kB at most, read whole into a buffer on the stack: no
/// allocation on every request.
fn read_small<T>(path: &str, read: impl FnOnce(&str) -> Option<T>) -> Option<T> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut bytes = [0; 4096];
    let mut len = 0;
    while len < bytes.len() {
        match file.read(&mut bytes[len..]).ok()? {
            0 => break,
            n => len += n,
        }
    }
    read(std::str::from_utf8(&bytes[..len]).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_on_linux() {
        if cfg!(target_os = "linux") {
            let mb = max_memory_mb().expect("VmHWM");
            assert!(mb >= 1, "{mb}");
            let age = age_ms().expect("the process's age");
            assert!(age >= 0.0 && age.fract() == 0.0, "{age}");
        }
    }
}
