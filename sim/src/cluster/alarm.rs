//! An actor's wake-up that costs one madsim timer per deadline, not one per poll.
//!
//! madsim's `Sleep` adds a timer each time it is polled and never takes one back, so an
//! actor that builds a fresh `sleep` each time a datagram wakes it leaves a timer behind
//! per datagram, and each of those later wakes the actor for nothing. The alarm remembers
//! the deadline it has a timer for: it registers again only for an earlier deadline, or
//! once that timer has fired.
//!
//! Deadlines are madsim's elapsed time (a `Duration` since the runtime began), read with
//! no `Instant` arithmetic: the alarm is polled at every wake-up of its actor.

use madsim::time::{Duration, TimeHandle};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

pub struct Alarm {
    clock: TimeHandle,
    /// When the actor wants to wake, in madsim's elapsed time.
    deadline: Option<Duration>,
    /// The deadline a madsim timer was asked to wake this task at (it may lie in the
    /// past; madsim fires no sooner than 1 ms after the asking, as the old sleeps did).
    registered: Option<Duration>,
}

impl Alarm {
    pub fn new() -> Alarm {
        Alarm { clock: TimeHandle::current(), deadline: None, registered: None }
    }

    /// Wake once madsim's elapsed time reaches `deadline`.
    pub fn set(&mut self, deadline: Duration) {
        self.deadline = Some(deadline);
    }

    /// Resolves once the deadline set last has passed.
    pub fn ring(&mut self) -> Ring<'_> {
        Ring { alarm: self }
    }
}

pub struct Ring<'a> {
    alarm: &'a mut Alarm,
}

impl Future for Ring<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<()> {
        let alarm = &mut self.get_mut().alarm;
        let Some(deadline) = alarm.deadline else { return Poll::Pending };
        let now = alarm.clock.elapsed();
        if now >= deadline {
            alarm.deadline = None;
            return Poll::Ready(());
        }
        let covered = alarm.registered.is_some_and(|registered| registered > now && registered <= deadline);
        if !covered {
            // Polled once and dropped: the timer it registered stays and wakes this task.
            let mut sleep = alarm.clock.sleep(deadline - now);
            let pending = Pin::new(&mut sleep).poll(context).is_pending();
            debug_assert!(pending, "the deadline lies ahead");
            alarm.registered = Some(deadline);
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use madsim::runtime::Runtime;

    /// Rings once its deadline passes, for the deadline set last: a later deadline does
    /// not ring at the earlier timer, an earlier one rings before the later timer.
    #[test]
    fn rings_at_the_deadline_set_last() {
        Runtime::with_seed_and_config(1, madsim::Config::default()).block_on(async {
            let clock = TimeHandle::current();
            let started = clock.elapsed();
            let elapsed_ms = || (clock.elapsed() - started).as_millis();
            let mut alarm = Alarm::new();

            alarm.set(started + Duration::from_millis(10));
            alarm.ring().await;
            assert_eq!(elapsed_ms(), 10);

            // A timer for 20 ms is registered, then the deadline moves to 40 ms.
            alarm.set(started + Duration::from_millis(20));
            let pending = madsim::time::timeout(Duration::from_millis(1), alarm.ring()).await;
            assert!(pending.is_err(), "not due yet");
            alarm.set(started + Duration::from_millis(40));
            alarm.ring().await;
            assert_eq!(elapsed_ms(), 40, "the 20 ms timer woke the task but did not ring");

            // A timer for 100 ms is registered, then the deadline moves to 50 ms.
            alarm.set(started + Duration::from_millis(100));
            let pending = madsim::time::timeout(Duration::from_millis(1), alarm.ring()).await;
            assert!(pending.is_err(), "not due yet");
            alarm.set(started + Duration::from_millis(50));
            alarm.ring().await;
            assert_eq!(elapsed_ms(), 50);
        });
    }
}
