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

/// Checks, before anything is read or solved, that every output can be written without harm:
/// its directory exists, it is not a directory itself, no two outputs name the same file, and
/// none names an input of the run (compared as canonical paths, so `venue/./papers.csv` and a
/// symbolic link to it are caught too). `outputs` are `(flag, path)`; `-` (stdout) is always
/// fine. Fails with [`Error::Options`] (a usage error) naming the flag and the path.
///
/// ```
/// use std::path::{Path, PathBuf};
/// let dir = tempfile::tempdir()?;
/// let papers = dir.path().join("papers.csv");
/// std::fs::write(&papers, "paper_id\n")?;
/// let inputs = [papers.clone()];
/// let check = |out: &Path| papermatch::io::check_outputs(&inputs, &[("-o", out)]);
/// assert!(check(&dir.path().join("assignments.csv")).is_ok());
/// assert!(check(&papers).is_err());
/// assert!(check(&dir.path().join("missing/assignments.csv")).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn check_outputs(inputs: &[std::path::PathBuf], outputs: &[(&str, &Path)]) -> Result<()> {
    let inputs: Vec<std::path::PathBuf> = inputs
        .iter()
        .filter_map(|p| p.canonicalize().ok())
        .collect();
    let mut seen: Vec<(&str, std::path::PathBuf)> = Vec::new();
    for &(flag, path) in outputs {
        if path.as_os_str() == "-" {
            continue;
        }
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        if !dir.is_dir() {
            return Err(Error::Options(format!(
                "{flag} {}: the directory {} does not exist; create it first (mkdir -p {}) or \
                 write somewhere else",
                path.display(),
                dir.display(),
                dir.display()
            )));
        }
        if path.is_dir() {
            return Err(Error::Options(format!(
                "{flag} {}: is a directory; name a file in it",
                path.display()
            )));
        }
        let Some(name) = path.file_name() else {
            return Err(Error::Options(format!(
                "{flag} {}: not a file name",
                path.display()
            )));
        };
        let target = path.canonicalize().unwrap_or_else(|_| {
            dir.canonicalize()
                .unwrap_or_else(|_| dir.to_path_buf())
                .join(name)
        });
        if inputs.contains(&target) {
            return Err(Error::Options(format!(
                "{flag} {}: this is an input of the run, and writing there would replace it; \
                 choose another file name",
                path.display()
            )));
        }
        if let Some((other, _)) = seen.iter().find(|(_, t)| *t == target) {
            return Err(Error::Options(format!(
                "{flag} {} and {other} name the same file; give each output its own",
                path.display()
            )));
        }
        seen.push((flag, target));
    }
    Ok(())
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
