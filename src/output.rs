//! Writing files so that no reader ever sees half of one: write a temporary file beside the
//! target, flush it to disk, then rename it over the target. The file gets the permissions any
//! newly created file would (0666, or 0777 for scripts, less the umask), not the owner-only mode
//! of a temporary file: reports are handed to other people.

use std::io::Write;
use std::path::{Path, PathBuf};

/// A file that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("{path}: cannot write: {source}")]
pub struct WriteError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// Replaces `path` with `bytes` atomically, creating its directory when needed.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    write(path, bytes, false)
}

/// The same, for a script a person runs: executable by its owner, readable and executable by
/// others, as a checked-out script would be.
pub fn write_atomically_executable(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    write(path, bytes, true)
}

fn write(path: &Path, bytes: &[u8], executable: bool) -> Result<(), WriteError> {
    let err = |source| WriteError {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(err)?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(".amlaudit-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // The mode is given to open(2), which applies the umask.
        let mode = if executable { 0o777 } else { 0o666 };
        builder.permissions(std::fs::Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = executable;
    let mut tmp = builder.tempfile_in(&dir).map_err(err)?;
    tmp.write_all(bytes).map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn files_get_ordinary_permissions_and_replace_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let report = dir.path().join("nested/findings.json");
        write_atomically(&report, b"old").unwrap();
        write_atomically(&report, b"new").unwrap();
        assert_eq!(std::fs::read(&report).unwrap(), b"new");
        let mode = std::fs::metadata(&report).unwrap().permissions().mode() & 0o777;
        // Whatever the umask, the owner can read and write and nobody gets execute.
        assert_eq!(mode & 0o700, 0o600);
        assert_eq!(mode & 0o111, 0);
        let script = dir.path().join("remediation.sh");
        write_atomically_executable(&script, b"#!/bin/sh\n").unwrap();
        assert_eq!(
            std::fs::metadata(&script).unwrap().permissions().mode() & 0o100,
            0o100
        );
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("nested"))
            .unwrap()
            .collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    }
}
