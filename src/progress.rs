//! Progress bars on stderr for long steps: drawn only when enabled and stderr is a terminal.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar of `len` units for the step `what`; hidden unless `enabled`.
pub fn bar(enabled: bool, len: u64, what: &'static str) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{msg:>16} [{bar:40}] {percent:>3}% {elapsed_precise}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what);
    bar
}
