//! Retries of transient errors: exponential backoff with jitter, capped.

use std::time::Duration;

use crate::config::RetryPolicy;
use crate::error::Result;

/// Retries `f` on transient errors: delay `min(max, base·2^n)` with jitter, capped at max.
pub fn with_retry(
    policy: &RetryPolicy,
    what: &str,
    mut f: impl FnMut() -> Result<()>,
) -> Result<()> {
    let mut attempt = 0u32;
    loop {
        match f() {
            Err(e) if e.is_transient() && attempt < policy.max_retries => {
                let delay = backoff(policy, attempt);
                tracing::warn!(table = %what, attempt = attempt + 1, delay_s = delay.as_secs_f64(), "transient error, retrying the batch: {e:#}");
                std::thread::sleep(delay);
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// The delay before retry `attempt` (0-based): `base·2^attempt` plus up to 50% jitter,
/// never above `max`.
pub fn backoff(policy: &RetryPolicy, attempt: u32) -> Duration {
    let exp = policy.base_seconds * 2f64.powi(attempt.min(60) as i32);
    let jittered = exp * (1.0 + rand::random::<f64>() * 0.5);
    Duration::from_secs_f64(jittered.min(policy.max_seconds).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn backoff_grows_and_never_exceeds_the_cap() {
        let p = RetryPolicy {
            max_retries: 10,
            base_seconds: 0.5,
            max_seconds: 8.0,
        };
        for attempt in 0..40 {
            for _ in 0..50 {
                let d = backoff(&p, attempt).as_secs_f64();
                assert!(d <= 8.0, "attempt {attempt}: {d}");
                assert!(d >= (0.5 * 2f64.powi(attempt as i32)).min(8.0) - 1e-9);
            }
        }
    }

    #[test]
    fn retries_transient_errors_only_up_to_the_limit() {
        let p = RetryPolicy {
            max_retries: 2,
            base_seconds: 0.0,
            max_seconds: 0.0,
        };
        let mut calls = 0;
        let r = with_retry(&p, "t", || {
            calls += 1;
            Err(Error::database("x", true, "lost"))
        });
        assert!(r.is_err());
        assert_eq!(calls, 3);
        let mut calls = 0;
        let _ = with_retry(&p, "t", || {
            calls += 1;
            Err(Error::database("x", false, "syntax"))
        });
        assert_eq!(calls, 1);
    }
}
