//! Writing outputs so that a failed run never leaves a half-written file.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Writes what `fill` produces to `path` atomically: into a temporary file in the same directory,
/// renamed into place only when `fill` succeeded. `-` writes to standard output.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("out.txt");
/// papermatch::io::write_atomic(&path, |w| Ok(w.write_all(b"hello\n")?))?;
/// assert_eq!(std::fs::read_to_string(&path)?, "hello\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_atomic(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    if path.as_os_str() == "-" {
        let stdout = std::io::stdout();
        let mut lock = std::io::BufWriter::new(stdout.lock());
        return fill(&mut lock)
            .and_then(|()| lock.flush())
            .map_err(|e| Error::io("cannot write", "-", e));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".papermatch-").suffix(".tmp");
    // Outputs are ordinary files: readable by others as the umask allows, not 0600.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    let tmp = builder
        .tempfile_in(dir)
        .map_err(|e| Error::io("cannot create a temporary file in", dir, e))?;
    let mut w = std::io::BufWriter::new(tmp);
    fill(&mut w)
        .and_then(|()| w.flush())
        .map_err(|e| Error::io("cannot write", path, e))?;
    let tmp = w
        .into_inner()
        .map_err(|e| Error::io("cannot write", path, e.into_error()))?;
    tmp.persist(path)
        .map_err(|e| Error::io("cannot write", path, e.error))?;
    Ok(())
}

/// Writes a CSV file atomically: `header` then the records `fill` writes.
pub fn write_csv_atomic(
    path: &Path,
    header: &[&str],
    fill: impl FnOnce(&mut csv::Writer<&mut dyn Write>) -> csv::Result<()>,
) -> Result<()> {
    write_atomic(path, |w| {
        let mut out = csv::Writer::from_writer(w);
        out.write_record(header)?;
        fill(&mut out)?;
        out.flush()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_write_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        let r = write_atomic(&path, |w| {
            w.write_all(b"partial")?;
            Err(std::io::Error::other("boom"))
        });
        assert!(r.is_err());
        assert!(!path.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn csv_quotes_when_needed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        write_csv_atomic(&path, &["a", "b"], |w| w.write_record(["x,y", "z"])).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a,b\n\"x,y\",z\n");
    }
}
