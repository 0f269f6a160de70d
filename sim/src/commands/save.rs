//! Saving: every file a subcommand writes, with the error a user reads when it cannot.

use super::usage_error;
use std::path::Path;

/// Writes `text` to `path`; on failure, says which file (`what`) and why, and gives the
/// usage exit code for the caller to return.
pub fn write_text(path: &Path, text: &str, what: &str) -> Result<(), i32> {
    std::fs::write(path, text).map_err(|error| usage_error(format!("cannot write {what} {}: {error}", path.display())))
}

/// Writes `value` as pretty JSON, ending in a newline.
pub fn write_json(path: &Path, value: &impl serde::Serialize, what: &str) -> Result<(), i32> {
    let text = serde_json::to_string_pretty(value).expect("reports serialize") + "\n";
    write_text(path, &text, what)
}
