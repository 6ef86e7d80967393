//! State that every request writes and few read (metric values, kept log lines, the gateway's
//! copies of the functions): one part per thread, so that a write neither waits for a lock
//! another thread holds nor pulls the state's cache lines from another core. Reads, which are
//! rarer, go through every part.
//!
//! A lock per part rather than thread-local state: a reader must reach every thread's part,
//! and a part outlives its thread.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

/// How many parts. Threads take them in turn as they first write; past this many threads,
/// some share a part (still correct, only not as fast).
pub const PARTS: usize = 8;

thread_local! {
    static PART: usize = {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        NEXT.fetch_add(1, Ordering::Relaxed) % PARTS
    };
}

/// Aligned so that no two parts share a cache line, or the pair of lines a core fetches
/// together.
#[derive(Default)]
#[repr(align(128))]
struct Part<T>(Mutex<T>);

pub struct PerThread<T>([Part<T>; PARTS]);

impl<T: Default> Default for PerThread<T> {
    fn default() -> Self {
        Self(std::array::from_fn(|_| Part::default()))
    }
}

impl<T> PerThread<T> {
    /// This thread's part.
    pub fn mine(&self) -> MutexGuard<'_, T> {
        PART.with(|part| lock(&self.0[*part].0))
    }

    /// Every part, one after the other.
    pub fn each(&self) -> impl Iterator<Item = MutexGuard<'_, T>> {
        self.0.iter().map(|part| lock(&part.0))
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_write_their_own_parts_and_reads_see_them_all() {
        let counts: PerThread<u64> = PerThread::default();
        std::thread::scope(|scope| {
            for _ in 0..2 * PARTS {
                scope.spawn(|| {
                    for _ in 0..1000 {
                        *counts.mine() += 1;
                    }
                });
            }
        });
        assert_eq!(
            counts.each().map(|n| *n).sum::<u64>(),
            2 * PARTS as u64 * 1000
        );
        assert_eq!(std::mem::align_of::<Part<u64>>(), 128);
    }
}
