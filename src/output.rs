//! Writing files so that no reader ever sees half of one: write a temporary file beside the
//! target, flush it to disk, then rename it over the target. The file gets the permissions any
//! newly created file would (0666, or 0777 for scripts, less the umask), not the owner-only mode
//! of a temporary file: reports are handed to other people.
//!
//! [`write_all`] does the same for a set of files that belong together (a scan's reports and its
//! baseline): every file is written to a temporary beside its target first, then all are renamed
//! into place; if anything fails, the targets are left exactly as they were.

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
    let tmp = temporary(path, bytes, executable)?;
    tmp.persist(path).map_err(|e| WriteError {
        path: path.to_path_buf(),
        source: e.error,
    })?;
    Ok(())
}

/// `bytes` in a synced temporary file beside `path`, with the permissions `path` should get.
fn temporary(
    path: &Path,
    bytes: &[u8],
    executable: bool,
) -> Result<tempfile::TempPath, WriteError> {
    let err = |source| WriteError {
        path: path.to_path_buf(),
        source,
    };
    let dir = parent_dir(path);
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
    Ok(tmp.into_temp_path())
}

/// One file of a set for [`write_all`].
#[derive(Debug, Clone)]
pub struct PendingFile {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
    /// A script: executable, as [`write_atomically_executable`] makes it.
    pub executable: bool,
}

/// Writes every file or none. All contents are written and synced to temporary files first; then
/// each existing target is moved aside and the temporary renamed over it. If any step fails,
/// the renamed files are put back (or removed when there was none), so every target keeps its old
/// content, and the error names the file that failed. A target that is a directory is refused
/// before anything is written.
pub fn write_all(files: &[PendingFile]) -> Result<(), WriteError> {
    for f in files {
        if f.path.is_dir() {
            return Err(WriteError {
                path: f.path.clone(),
                source: std::io::Error::new(
                    std::io::ErrorKind::IsADirectory,
                    "a directory is in the way of this file",
                ),
            });
        }
    }
    let mut temps = Vec::with_capacity(files.len());
    for f in files {
        temps.push(temporary(&f.path, &f.bytes, f.executable)?);
    }
    // (target, the old file moved aside if there was one)
    let mut placed: Vec<(PathBuf, Option<tempfile::TempPath>)> = Vec::new();
    let mut temps = temps.into_iter();
    for (f, tmp) in files.iter().zip(temps.by_ref()) {
        let err = |source| WriteError {
            path: f.path.clone(),
            source,
        };
        let moved_aside = if f.path.exists() {
            match set_aside(&f.path) {
                Ok(old) => Some(old),
                Err(e) => {
                    roll_back(placed);
                    return Err(err(e));
                }
            }
        } else {
            None
        };
        if let Err(e) = tmp.persist(&f.path) {
            if let Some(old) = moved_aside {
                let _ = old.persist(&f.path);
            }
            roll_back(placed);
            return Err(err(e.error));
        }
        placed.push((f.path.clone(), moved_aside));
    }
    // Dropping the moved-aside copies deletes them.
    drop(placed);
    Ok(())
}

fn roll_back(placed: Vec<(PathBuf, Option<tempfile::TempPath>)>) {
    for (path, old) in placed.into_iter().rev() {
        match old {
            Some(old) => {
                let _ = old.persist(&path);
            }
            None => {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
}

/// Moves an existing file to a temporary name beside it (deleted when dropped).
fn set_aside(path: &Path) -> std::io::Result<tempfile::TempPath> {
    let dir = parent_dir(path);
    let aside = tempfile::Builder::new()
        .prefix(".amlaudit-old-")
        .tempfile_in(&dir)?
        .into_temp_path();
    std::fs::rename(path, &aside)?;
    Ok(aside)
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
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
