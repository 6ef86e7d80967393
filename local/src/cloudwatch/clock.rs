//! The twin's CloudWatch clock: the real time plus an offset that only moves forward.
//!
//! Alarms need M of N one-minute datapoints; a rehearsal that waited for them would take
//! minutes. Rather than bend CloudWatch's semantics (periods, M of N, missing data), the twin
//! compresses time honestly: every timestamp its metric store records (the gateway's, Lambda's
//! and the stand-ins' metrics, and the functions' EMF documents, shifted by the offset) and
//! every alarm evaluation read this clock, and an operator or a test moves it forward
//! (`POST /_twin/clock`). The API's own clocks (item ids, cursors, token expiry, log
//! timestamps) stay on real time: moving them would break what a client holds.

use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

#[derive(Debug, Default)]
pub struct TwinClock {
    offset_ms: AtomicI64,
    /// Each move: `(real time of the move, offset after it)`, oldest first; so that the twin's
    /// time of an earlier real instant can be told (a record's age on this clock).
    moves: Mutex<Vec<(i64, i64)>>,
}

/// Milliseconds since the epoch, real time.
pub fn real_ms() -> i64 {
    // Seconds and milliseconds apart: read on every metric put, and the nanoseconds as one
    // number would take a 128-bit division.
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    since_epoch.as_secs() as i64 * 1000 + i64::from(since_epoch.subsec_millis())
}

impl TwinClock {
    /// Milliseconds since the epoch, on the twin's clock.
    pub fn now_ms(&self) -> i64 {
        real_ms() + self.offset_ms()
    }

    /// The twin's time of `real_ms` (milliseconds since the epoch, real time, as a caller read
    /// it already).
    pub fn at_ms(&self, real_ms: i64) -> i64 {
        real_ms + self.offset_ms()
    }

    /// Seconds since the epoch, on the twin's clock.
    pub fn now_secs(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    /// How far ahead of real time the clock is.
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }

    /// The twin's time at an earlier real instant `real_ms`: with the offset in force then.
    /// What happened before a move is that much further in the past after it.
    pub fn then_ms(&self, real_ms: i64) -> i64 {
        let moves = self.moves.lock().unwrap_or_else(|e| e.into_inner());
        let offset = moves
            .iter()
            .rev()
            .find(|(at, _)| *at <= real_ms)
            .map_or(0, |(_, offset)| *offset);
        real_ms + offset
    }

    /// How far the clock was moved on since the earlier real instant `real_ms`: what a record
    /// written then has aged on this clock beyond the real time passed.
    pub fn moved_since_ms(&self, real_ms: i64) -> i64 {
        self.offset_ms() - (self.then_ms(real_ms) - real_ms)
    }

    /// Moves the clock forward by `ms` (never back: CloudWatch's past does not change).
    pub fn advance_ms(&self, ms: i64) {
        let mut moves = self.moves.lock().unwrap_or_else(|e| e.into_inner());
        let after = self.offset_ms.fetch_add(ms.max(0), Ordering::Relaxed) + ms.max(0);
        moves.push((real_ms(), after));
    }

    /// Moves the clock to the start of the next minute: the minute it was in becomes a
    /// complete period that the next evaluation reads.
    pub fn advance_to_next_minute(&self) {
        self.advance_ms(to_next_minute(self.now_ms()));
    }
}

/// Milliseconds from `now_ms` to the start of the next minute (a whole minute at a boundary).
fn to_next_minute(now_ms: i64) -> i64 {
    60_000 - now_ms.rem_euclid(60_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_forward_only_and_lands_on_minutes() {
        let clock = TwinClock::default();
        let before = clock.now_ms();
        clock.advance_ms(-5_000);
        assert_eq!(clock.offset_ms(), 0, "never back");
        clock.advance_ms(90_000);
        assert!(clock.now_ms() >= before + 90_000);
        clock.advance_to_next_minute();
        assert!(clock.now_ms() >= before + 90_000);
        // 12:00:10.500 → 12:01:00; 12:01:00 → 12:02:00.
        // 2027-01-15T08:00:00Z, a minute boundary.
        let minute = 1_800_000_000_000;
        assert_eq!(to_next_minute(minute + 10_500), 49_500);
        assert_eq!(to_next_minute(minute), 60_000);
    }

    #[test]
    fn an_earlier_instant_keeps_the_offset_of_its_time() {
        let clock = TwinClock::default();
        let earlier = real_ms() - 1;
        clock.advance_ms(61_000);
        assert_eq!(clock.then_ms(earlier), earlier, "before the move");
        let later = real_ms() + 1;
        assert_eq!(clock.then_ms(later), later + 61_000);
        assert!(
            clock.now_ms() - clock.then_ms(earlier) >= 61_000,
            "aged by the move"
        );
        assert_eq!(clock.moved_since_ms(earlier), 61_000);
        assert_eq!(clock.moved_since_ms(later), 0);
    }
}
