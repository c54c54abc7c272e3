//! The embedding cache: vectors kept across runs and venues, one file per model under a folder,
//! written as texts are embedded, safe against crashes and against runs sharing the folder.
//!
//! # Format (version 2)
//!
//! `<model key>.emb`, little-endian:
//!
//! | bytes | what |
//! |---|---|
//! | 8 | magic `PMEMBEDS` |
//! | 4 | format version, 2 |
//! | 4 | `dim`, the vectors' length |
//! | 4 | CRC-32 of the 16 bytes above |
//! | 4 | zero |
//! | then, per record: 4 | the payload's length, `16 + 4 · dim` |
//! | 4 | CRC-32 of the payload |
//! | `16 + 4 · dim` | the payload: a 128-bit hash of the text, then the vector's `f32`s |
//!
//! # Safety
//!
//! - **Crashes.** Records are appended while a run embeds (every [`FLUSH_RECORDS`] vectors or
//!   [`FLUSH_SECONDS`], whichever comes first), so a killed run loses at most that much. A record
//!   cut short by a kill during the append is found by its length (every record has the same),
//!   and cut away, with a warning naming the file and the records kept, before anything is
//!   appended after it: later records never shift out of step.
//! - **Corruption.** A record whose checksum fails is skipped, never used; if it is at the end,
//!   it is cut away like a torn one.
//! - **Sharing.** Every read and append holds an exclusive lock on the file (`flock`), so runs
//!   sharing a folder append whole records one after the other.
//! - **Other files.** A file of the earlier format (version 1, whose vectors could depend on the
//!   batch they were embedded in) is rebuilt, with a warning; a file that is not an embedding
//!   cache is refused with an error naming it, and left alone.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::error::{Error, Result};

/// The first bytes of a cache file.
const MAGIC: &[u8; 8] = b"PMEMBEDS";
/// The format version this build writes and reads.
const VERSION: u32 = 2;
/// Bytes of the header.
const HEADER: usize = 24;
/// Appends happen at least every this many new vectors…
pub const FLUSH_RECORDS: usize = 64;
/// …and at least every this many seconds while a run embeds.
pub const FLUSH_SECONDS: u64 = 30;

/// 64-bit FNV-1a: the cache's keys for texts and models.
pub(crate) struct Fnv(pub(crate) u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    /// Hashes `bytes` in.
    pub(crate) fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= b as u64;
            self.0 = self.0.wrapping_mul(0x100_0000_01b3);
        }
    }
}

/// A 128-bit hash of a text: the cache's key for it (two FNV-1a hashes with different bases).
pub fn text_key(text: &str) -> u128 {
    let (mut a, mut b) = (Fnv::default(), Fnv(0x6c62_272e_07bb_0142));
    a.write(text.as_bytes());
    b.write(text.as_bytes());
    (a.0 as u128) << 64 | b.0 as u128
}

/// Embeddings kept across runs; see the module doc.
#[derive(Debug, Default)]
pub struct EmbeddingCache {
    dir: PathBuf,
    loaded: HashMap<String, HashMap<u128, Vec<f32>>>,
    fresh: HashMap<String, Records>,
    warnings: Vec<String>,
    /// When the cache last saved, or was first asked whether a save is due.
    saved: Option<Instant>,
}

/// Vectors by text hash, in the order they were kept.
type Records = Vec<(u128, Vec<f32>)>;

/// What a scan of a cache file found.
struct Scan {
    dim: usize,
    records: HashMap<u128, Vec<f32>>,
    /// Where the good records end: anything after is torn or corrupt and is cut away.
    good_end: u64,
    skipped: usize,
}

fn frame(dim: usize) -> usize {
    8 + 16 + 4 * dim
}

fn header(dim: usize) -> [u8; HEADER] {
    let mut h = [0u8; HEADER];
    h[..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    h[12..16].copy_from_slice(&(dim as u32).to_le_bytes());
    let crc = crc32fast::hash(&h[..16]);
    h[16..20].copy_from_slice(&crc.to_le_bytes());
    h
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

/// What the first bytes of a file are.
enum Kind {
    Empty,
    Current(usize),
    /// Version 1: a bare `dim`, then records of a 16-byte hash and `dim` floats.
    Old,
    Foreign(String),
}

fn kind(bytes: &[u8]) -> Kind {
    if bytes.is_empty() {
        return Kind::Empty;
    }
    if bytes.len() >= HEADER && &bytes[..8] == MAGIC {
        let (version, dim) = (u32_at(bytes, 8), u32_at(bytes, 12) as usize);
        if crc32fast::hash(&bytes[..16]) != u32_at(bytes, 16) {
            return Kind::Foreign("its header's checksum fails".into());
        }
        return match version {
            VERSION if dim > 0 => Kind::Current(dim),
            v => Kind::Foreign(format!(
                "it is in format version {v}, which this papermatch does not read"
            )),
        };
    }
    if bytes.len() >= 4 {
        let dim = u32_at(bytes, 0) as usize;
        if (1..=65_536).contains(&dim) && (bytes.len() - 4).is_multiple_of(16 + 4 * dim) {
            return Kind::Old;
        }
    }
    Kind::Foreign("it does not start like an embedding cache".into())
}

/// The records of a current-format file's bytes.
fn scan(bytes: &[u8], dim: usize) -> Scan {
    let f = frame(dim);
    let mut s = Scan {
        dim,
        records: HashMap::new(),
        good_end: HEADER as u64,
        skipped: 0,
    };
    let mut at = HEADER;
    let mut bad_run = 0;
    while at + f <= bytes.len() {
        let rec = &bytes[at..at + f];
        let payload = &rec[8..];
        let ok =
            u32_at(rec, 0) as usize == payload.len() && u32_at(rec, 4) == crc32fast::hash(payload);
        if ok {
            let key = u128::from_le_bytes(payload[..16].try_into().expect("16 bytes"));
            let v = payload[16..]
                .chunks_exact(4)
                .map(|x| f32::from_le_bytes(x.try_into().expect("4 bytes")))
                .collect();
            s.records.insert(key, v);
            s.skipped += bad_run;
            bad_run = 0;
            s.good_end = (at + f) as u64;
        } else {
            bad_run += 1;
        }
        at += f;
    }
    s
}

impl EmbeddingCache {
    /// A cache under `dir` (created when it first saves).
    pub fn new(dir: &Path) -> EmbeddingCache {
        EmbeddingCache {
            dir: dir.to_path_buf(),
            ..EmbeddingCache::default()
        }
    }

    fn file(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.emb"))
    }

    /// What the cache warned about (torn records cut away, corrupt ones skipped, old files
    /// rebuilt); each was also printed on stderr.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    fn warn(&mut self, w: String) {
        eprintln!("warning: {w}");
        self.warnings.push(w);
    }

    /// Opens `key`'s file locked, checks it and cuts away a torn or corrupt tail: the locked
    /// file with its scan (`None` when it is empty or was rebuilt), or `None` when there is no
    /// file and `create` is false. `create` makes the folder and the file.
    fn open(&mut self, key: &str, create: bool) -> Result<Option<(File, Option<Scan>)>> {
        let path = self.file(key);
        if create {
            std::fs::create_dir_all(&self.dir)
                .map_err(|e| Error::io("cannot create", &self.dir, e))?;
        } else if !path.exists() {
            return Ok(None);
        }
        let mut f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(create)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io("cannot open", &path, e))?;
        f.lock().map_err(|e| Error::io("cannot lock", &path, e))?;
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes)
            .map_err(|e| Error::io("cannot read", &path, e))?;
        let dim = match kind(&bytes) {
            Kind::Empty => return Ok(Some((f, None))),
            Kind::Current(dim) => dim,
            Kind::Old => {
                self.warn(format!(
                    "{}: an embedding cache of papermatch's earlier format, whose vectors could \
                     depend on the batch they were embedded in; it is rebuilt",
                    path.display()
                ));
                f.set_len(0)
                    .map_err(|e| Error::io("cannot rebuild", &path, e))?;
                return Ok(Some((f, None)));
            }
            Kind::Foreign(why) => {
                return Err(Error::Options(format!(
                    "--embedding-cache: {} is not an embedding cache this papermatch can use \
                     ({why}); move it away or choose another cache folder",
                    path.display()
                )));
            }
        };
        let s = scan(&bytes, dim);
        let cut = bytes.len() as u64 - s.good_end;
        if s.skipped > 0 {
            self.warn(format!(
                "{}: {} corrupt record(s) skipped (their checksum fails)",
                path.display(),
                s.skipped
            ));
        }
        if cut > 0 {
            self.warn(format!(
                "{}: {cut} byte(s) at the end were a record cut short or corrupt (a run killed \
                 while writing?) and are cut away; {} record(s) kept",
                path.display(),
                s.records.len()
            ));
            f.set_len(s.good_end)
                .map_err(|e| Error::io("cannot repair", &path, e))?;
        }
        Ok(Some((f, Some(s))))
    }

    /// Reads `key`'s file, once: its records become available to [`EmbeddingCache::get`].
    pub fn load(&mut self, key: &str) -> Result<()> {
        if self.loaded.contains_key(key) {
            return Ok(());
        }
        let records = self
            .open(key, false)?
            .and_then(|(_, s)| s)
            .map(|s| s.records)
            .unwrap_or_default();
        self.loaded.insert(key.to_string(), records);
        Ok(())
    }

    /// The vector of `text` under `key`, if the cache has it.
    pub fn get(&self, key: &str, text: &str) -> Option<&Vec<f32>> {
        self.loaded.get(key)?.get(&text_key(text))
    }

    /// Keeps the vector of `text` under `key`, to be written by the next save.
    pub fn put(&mut self, key: &str, text: &str, v: Vec<f32>) {
        let k = text_key(text);
        self.fresh
            .entry(key.to_string())
            .or_default()
            .push((k, v.clone()));
        self.loaded.entry(key.to_string()).or_default().insert(k, v);
    }

    /// Vectors kept since the last save.
    pub fn pending(&self) -> usize {
        self.fresh.values().map(Vec::len).sum()
    }

    /// Saves once [`FLUSH_RECORDS`] vectors are waiting or [`FLUSH_SECONDS`] have passed since
    /// the last save, so that a run killed while it embeds keeps what it did.
    pub fn save_if_due(&mut self) -> Result<()> {
        let since = *self.saved.get_or_insert_with(Instant::now);
        if self.pending() >= FLUSH_RECORDS || since.elapsed().as_secs() >= FLUSH_SECONDS {
            self.save()?;
        }
        Ok(())
    }

    /// Appends the vectors kept since the last save to their files, each under its lock, after
    /// cutting away a torn tail another run may have left; then syncs them to disk.
    pub fn save(&mut self) -> Result<()> {
        self.saved = Some(Instant::now());
        let mut fresh: Vec<(String, Records)> =
            std::mem::take(&mut self.fresh).into_iter().collect();
        fresh.sort_by(|a, b| a.0.cmp(&b.0));
        for (key, rows) in fresh {
            let Some(dim) = rows.first().map(|r| r.1.len()) else {
                continue;
            };
            let path = self.file(&key);
            let (mut f, file_dim) = match self.open(&key, true)? {
                Some((f, Some(s))) => (f, s.dim),
                Some((mut f, None)) => {
                    // Empty or rebuilt: it starts with the header.
                    f.seek(SeekFrom::Start(0))
                        .and_then(|_| f.write_all(&header(dim)))
                        .map_err(|e| Error::io("cannot write", &path, e))?;
                    (f, dim)
                }
                None => unreachable!("open creates the file"),
            };
            if file_dim != dim {
                return Err(Error::Options(format!(
                    "--embedding-cache: {} holds vectors of {file_dim} numbers, this model makes \
                     {dim}; move it away or choose another cache folder",
                    path.display()
                )));
            }
            let mut buf = Vec::with_capacity(rows.len() * frame(dim));
            for (k, v) in rows.iter().filter(|r| r.1.len() == dim) {
                let start = buf.len();
                buf.extend_from_slice(&((16 + 4 * dim) as u32).to_le_bytes());
                buf.extend_from_slice(&[0; 4]);
                buf.extend_from_slice(&k.to_le_bytes());
                for x in v {
                    buf.extend_from_slice(&x.to_le_bytes());
                }
                let crc = crc32fast::hash(&buf[start + 8..]);
                buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
            }
            f.seek(SeekFrom::End(0))
                .and_then(|_| f.write_all(&buf))
                .and_then(|_| f.sync_data())
                .map_err(|e| Error::io("cannot write", &path, e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector(i: usize, dim: usize) -> Vec<f32> {
        (0..dim).map(|j| (i * 31 + j) as f32 * 0.001).collect()
    }

    fn fill(dir: &Path, key: &str, n: usize, dim: usize) -> PathBuf {
        let mut c = EmbeddingCache::new(dir);
        for i in 0..n {
            c.put(key, &format!("text {i}"), vector(i, dim));
        }
        c.save().unwrap();
        dir.join(format!("{key}.emb"))
    }

    fn reload(dir: &Path, key: &str) -> EmbeddingCache {
        let mut c = EmbeddingCache::new(dir);
        c.load(key).unwrap();
        c
    }

    #[test]
    fn a_torn_tail_at_any_byte_is_cut_away_and_later_appends_stay_in_step() {
        let (n, dim) = (5, 3);
        let tmp = tempfile::tempdir().unwrap();
        let path = fill(tmp.path(), "m", n, dim);
        let whole = std::fs::read(&path).unwrap();
        let f = frame(dim);
        assert_eq!(whole.len(), HEADER + n * f);
        // Every byte offset inside the last two records.
        for len in HEADER + (n - 2) * f..whole.len() {
            std::fs::write(&path, &whole[..len]).unwrap();
            let c = reload(tmp.path(), "m");
            let kept = (len - HEADER) / f;
            for i in 0..n {
                let got = c.get("m", &format!("text {i}"));
                assert_eq!(got.is_some(), i < kept, "cut at {len}: record {i}");
                if let Some(v) = got {
                    assert_eq!(v, &vector(i, dim));
                }
            }
            assert_eq!(
                std::fs::metadata(&path).unwrap().len() as usize,
                HEADER + kept * f,
                "the torn record is cut away"
            );
            assert_eq!(c.warnings().len(), usize::from(len != HEADER + kept * f));
            // An append after the repair is found again, and so is everything before it.
            let mut c = reload(tmp.path(), "m");
            c.put("m", "late", vector(99, dim));
            c.save().unwrap();
            let c = reload(tmp.path(), "m");
            assert_eq!(c.get("m", "late"), Some(&vector(99, dim)));
            assert_eq!(c.loaded["m"].len(), kept + 1);
        }
    }

    #[test]
    fn a_flipped_byte_is_never_used() {
        let (n, dim) = (4, 2);
        let tmp = tempfile::tempdir().unwrap();
        let path = fill(tmp.path(), "m", n, dim);
        let whole = std::fs::read(&path).unwrap();
        let f = frame(dim);
        for at in HEADER..whole.len() {
            let mut bytes = whole.clone();
            bytes[at] ^= 0x10;
            std::fs::write(&path, &bytes).unwrap();
            let c = reload(tmp.path(), "m");
            let hit = (at - HEADER) / f;
            for i in 0..n {
                let got = c.get("m", &format!("text {i}"));
                if i == hit {
                    assert_eq!(got, None, "flipped byte {at}: record {i} used");
                } else {
                    assert_eq!(got, Some(&vector(i, dim)), "flipped byte {at}: record {i}");
                }
            }
            assert!(!c.warnings().is_empty());
        }
        // A flipped header byte: refused, not misread.
        let mut bytes = whole.clone();
        bytes[13] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let e = EmbeddingCache::new(tmp.path()).load("m").unwrap_err();
        assert!(e.to_string().contains("checksum"), "{e}");
    }

    #[test]
    fn old_files_are_rebuilt_and_foreign_files_refused() {
        let tmp = tempfile::tempdir().unwrap();
        // Version 1: dim, then a 16-byte hash and the floats.
        let mut v1 = 2u32.to_le_bytes().to_vec();
        v1.extend_from_slice(&text_key("a").to_le_bytes());
        v1.extend_from_slice(&1f32.to_le_bytes());
        v1.extend_from_slice(&2f32.to_le_bytes());
        std::fs::write(tmp.path().join("old.emb"), &v1).unwrap();
        let c = reload(tmp.path(), "old");
        assert_eq!(c.get("old", "a"), None);
        assert!(c.warnings()[0].contains("earlier format"));
        let path = fill(tmp.path(), "old", 2, 2);
        assert_eq!(
            reload(tmp.path(), "old").get("old", "text 1"),
            Some(&vector(1, 2))
        );
        assert!(std::fs::read(&path).unwrap().starts_with(MAGIC));
        // Not a cache at all: refused with its name, and left as it was.
        std::fs::write(tmp.path().join("notes.emb"), b"my precious notes\n").unwrap();
        let e = EmbeddingCache::new(tmp.path()).load("notes").unwrap_err();
        assert!(e.to_string().contains("notes.emb"), "{e}");
        assert_eq!(
            std::fs::read(tmp.path().join("notes.emb")).unwrap(),
            b"my precious notes\n"
        );
    }

    #[test]
    fn concurrent_writers_append_whole_records() {
        let tmp = tempfile::tempdir().unwrap();
        let dim = 16;
        std::thread::scope(|s| {
            for w in 0..4 {
                let dir = tmp.path();
                s.spawn(move || {
                    for round in 0..25 {
                        let mut c = EmbeddingCache::new(dir);
                        for i in 0..7 {
                            let k = w * 1000 + round * 10 + i;
                            c.put("m", &format!("text {k}"), vector(k, dim));
                        }
                        c.save().unwrap();
                    }
                });
            }
        });
        let c = reload(tmp.path(), "m");
        assert!(c.warnings().is_empty(), "{:?}", c.warnings());
        assert_eq!(c.loaded["m"].len(), 4 * 25 * 7);
        for w in 0..4 {
            for round in 0..25 {
                for i in 0..7 {
                    let k = w * 1000 + round * 10 + i;
                    assert_eq!(c.get("m", &format!("text {k}")), Some(&vector(k, dim)));
                }
            }
        }
    }
}
