//! Golden files: compared byte for byte; `BLESS=1` rewrites them.

use std::path::Path;

/// Fails unless `path` holds exactly `actual`; with `BLESS=1` in the
/// environment, writes `actual` to `path` instead.
#[track_caller]
pub fn assert_golden(path: &Path, actual: &str) {
    if std::env::var_os("BLESS").is_some_and(|v| v != "0") {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "cannot read golden file {}: {e} (run with BLESS=1 to create it)",
            path.display()
        )
    });
    if expected != actual {
        let line = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
        panic!(
            "{} differs from the generated text at line {}:\n  golden:    {:?}\n  generated: {:?}\n(run with BLESS=1 to accept the generated text, then review the diff)",
            path.display(),
            line + 1,
            expected.lines().nth(line).unwrap_or("<end of file>"),
            actual.lines().nth(line).unwrap_or("<end of file>"),
        );
    }
}
