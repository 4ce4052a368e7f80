//! Waiting by polling: [`eventually`] asks again until an answer is good, and at its deadline
//! fails with what it waited for and the last answer it saw. Nothing else in the tests waits
//! for a condition, and nothing sleeps without a condition to look at.

use std::fmt::Display;
use std::future::Future;
use std::time::{Duration, Instant};

/// Between two looks: short enough not to slow a test down, long enough not to load the
/// platform under test.
const POLL: Duration = Duration::from_millis(25);

/// One look at a condition: `Some`/`Ok` holds the awaited value; `Err` says what was seen
/// instead (the failure message shows the last one); `None` saw nothing worth showing.
pub trait Look<T> {
    fn into_look(self) -> Result<T, String>;
}

impl<T> Look<T> for Option<T> {
    fn into_look(self) -> Result<T, String> {
        self.ok_or_else(|| "nothing yet".to_string())
    }
}

impl<T, E: Display> Look<T> for Result<T, E> {
    fn into_look(self) -> Result<T, String> {
        self.map_err(|e| e.to_string())
    }
}

/// Calls `look` until it answers `Some`/`Ok` and returns that value; after `deadline`
/// panics with "`what`" and the last answer.
pub async fn eventually<T, L, F>(what: &str, deadline: Duration, look: impl FnMut() -> F) -> T
where
    L: Look<T>,
    F: Future<Output = L>,
{
    eventually_every(POLL, what, deadline, look).await
}

/// [`eventually`], looking every `poll`: for a race a test means to catch in the act (a kill
/// in the middle of a burst), where 25 ms would miss it.
pub async fn eventually_every<T, L, F>(
    poll: Duration,
    what: &str,
    deadline: Duration,
    mut look: impl FnMut() -> F,
) -> T
where
    L: Look<T>,
    F: Future<Output = L>,
{
    let until = Instant::now() + deadline;
    loop {
        match look().await.into_look() {
            Ok(v) => return v,
            Err(last) => assert!(
                Instant::now() < until,
                "waited {deadline:?} for {what}; the last answer was:\n{last}"
            ),
        }
        tokio::time::sleep(poll).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn returns_the_first_good_answer() {
        let mut n = 0;
        let got = eventually("a third look", Duration::from_secs(5), || {
            n += 1;
            let seen = n;
            async move { if seen == 3 { Ok(seen) } else { Err(seen) } }
        })
        .await;
        assert_eq!(got, 3);
    }

    #[tokio::test]
    #[should_panic(expected = "for the impossible; the last answer was:\nstill 7")]
    async fn fails_with_what_it_waited_for_and_the_last_answer() {
        eventually("the impossible", Duration::from_millis(50), || async {
            Err::<(), _>("still 7")
        })
        .await;
    }
}
