//! The shrink's progress bar: how much of the `--for` budget is spent, and what is being
//! tried. Lines printed through it do not tear the bar.

use indicatif::{ProgressBar, ProgressStyle};
use std::time::{Duration, Instant};

pub struct ShrinkProgress {
    bar: ProgressBar,
    started: Instant,
    budget: Duration,
}

impl ShrinkProgress {
    pub fn new(started: Instant, budget: Duration) -> ShrinkProgress {
        let bar = ProgressBar::new(budget.as_millis().max(1) as u64);
        let style = ProgressStyle::with_template("[{bar:30}] {elapsed} of the --for budget  {msg}")
            .expect("a valid template")
            .progress_chars("=> ");
        bar.set_style(style);
        ShrinkProgress { bar, started, budget }
    }

    /// Whether the budget allows another run.
    pub fn time_left(&self) -> bool {
        self.started.elapsed() < self.budget
    }

    pub fn show(&self, trying: String) {
        self.bar.set_position(self.started.elapsed().min(self.budget).as_millis() as u64);
        self.bar.set_message(trying);
    }

    pub fn println(&self, line: String) {
        self.bar.suspend(|| println!("{line}"));
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }

    pub fn elapsed_s(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}
