//! Stage throttling as API Gateway does it: a token bucket, `rate` requests a second refilled
//! continuously, up to `burst` at once. Past it the gateway answers `429`.

use std::sync::Mutex;
use std::time::Instant;

pub struct TokenBucket {
    rate: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    pub fn new(rate: f64, burst: u32) -> Self {
        let burst = f64::from(burst);
        Self {
            rate,
            burst,
            state: Mutex::new((burst, Instant::now())),
        }
    }

    /// Takes one token if there is one.
    /// Takes a token for a request that arrived at `now`.
    pub fn try_acquire_at(&self, now: Instant) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, last) = *state;
        let elapsed = now.saturating_duration_since(last).as_secs_f64();
        let tokens = (tokens + elapsed * self.rate).min(self.burst);
        if tokens >= 1.0 {
            *state = (tokens - 1.0, now);
            true
        } else {
            *state = (tokens, now);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn burst_then_rate() {
        let bucket = TokenBucket::new(10.0, 5);
        let t0 = Instant::now();
        assert_eq!(
            (0..8).filter(|_| bucket.try_acquire_at(t0)).count(),
            5,
            "the burst"
        );
        assert!(
            !bucket.try_acquire_at(t0 + Duration::from_millis(50)),
            "half a token"
        );
        assert!(
            bucket.try_acquire_at(t0 + Duration::from_millis(100)),
            "one token after 1/rate"
        );
        let later = t0 + Duration::from_secs(60);
        assert_eq!(
            (0..8).filter(|_| bucket.try_acquire_at(later)).count(),
            5,
            "never above burst"
        );
    }
}
