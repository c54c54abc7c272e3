//! The id tables of the fast reader: ids looked up by a short inline key (most ids fit in 16
//! bytes) in a hash map with a cheap hasher, and the ids each chunk interns on its own when the
//! ids are not known up front.

use super::*;

pub(super) fn lookup(ids: &IdMap<'_>, id: &[u8]) -> Result<u32, Stop> {
    ids.get(id).ok_or(Stop::Fallback)
}

/// An id of at most 16 bytes as two words read straight from it (overlapping when it is
/// shorter) and its length, so that hashing and comparing it cost a few integer operations, not
/// a `memcmp` (nor a copy through the stack).
#[inline(always)]
pub(super) fn short_key(id: &[u8]) -> Option<ShortKey> {
    let n = id.len();
    let word = |at: usize| u64::from_le_bytes(id[at..at + 8].try_into().expect("8 bytes"));
    let half = |at: usize| u32::from_le_bytes(id[at..at + 4].try_into().expect("4 bytes")) as u64;
    let (lo, hi) = match n {
        8..=16 => (word(0), word(n - 8)),
        4..=7 => (half(0), half(n - 4)),
        1..=3 => (
            id[0] as u64 | (id[n / 2] as u64) << 8 | (id[n - 1] as u64) << 16,
            0,
        ),
        0 => (0, 0),
        _ => return None,
    };
    Some(ShortKey {
        lo,
        hi,
        len: n as u8,
    })
}

/// See [`short_key`]: the words cover every byte of the id, and with its length they fix it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct ShortKey {
    pub(super) lo: u64,
    pub(super) hi: u64,
    pub(super) len: u8,
}

impl std::hash::Hash for ShortKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u128(self.lo as u128 | ((self.hi ^ self.len as u64) as u128) << 64);
    }
}

/// Hashes a [`ShortKey`] by one folded 128-bit multiplication (as wyhash does): `FxHash`
/// leaves such keys, which differ in a few bytes, crowded in the table.
#[derive(Default)]
pub(super) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ b as u64).wrapping_mul(0x517C_C1B7_2722_0A95);
        }
    }

    fn write_u128(&mut self, key: u128) {
        let (lo, hi) = (key as u64, (key >> 64) as u64);
        let m = (lo ^ 0x243F_6A88_85A3_08D3) as u128 * (hi ^ 0x1319_8A2E_0370_7344) as u128;
        self.0 = m as u64 ^ (m >> 64) as u64;
    }
}

/// Ids to indices: short ones by [`short_key`], longer ones by their bytes. Rows in no
/// particular order look two ids up each, and that is most of their cost.
#[derive(Default)]
pub(super) struct IdMap<'b> {
    pub(super) short: HashMap<ShortKey, u32, BuildHasherDefault<KeyHasher>>,
    pub(super) long: FxHashMap<&'b [u8], u32>,
}

impl<'b> IdMap<'b> {
    /// The ids of an interner, by their index there.
    pub(super) fn of(ids: &'b Interner) -> IdMap<'b> {
        let mut map = IdMap::default();
        for (i, id) in ids.ids.iter().enumerate() {
            map.insert(id.as_bytes(), i as u32);
        }
        map
    }

    #[inline]
    pub(super) fn get(&self, id: &[u8]) -> Option<u32> {
        match short_key(id) {
            Some(key) => self.short.get(&key).copied(),
            None => self.long.get(id).copied(),
        }
    }

    pub(super) fn insert(&mut self, id: &'b [u8], i: u32) {
        match short_key(id) {
            Some(key) => self.short.insert(key, i),
            None => self.long.insert(id, i),
        };
    }
}

/// Ids of one chunk, in order of first appearance. The text is copied out of the file, so that
/// merging touches no page of it once parsed (the map's keys, into the file, are only hashed
/// and compared while the chunk is parsed).
#[derive(Default)]
pub(super) struct LocalIds<'b> {
    pub(super) map: IdMap<'b>,
    pub(super) text: String,
    pub(super) ends: Vec<usize>,
}

impl<'b> LocalIds<'b> {
    pub(super) fn intern(&mut self, id: &'b [u8]) -> Result<u32, Stop> {
        if let Some(i) = self.map.get(id) {
            return Ok(i);
        }
        let i = self.ends.len() as u32;
        self.text
            .push_str(std::str::from_utf8(id).map_err(|_| Stop::Fallback)?);
        self.ends.push(self.text.len());
        self.map.insert(id, i);
        Ok(i)
    }

    pub(super) fn get(&self, i: usize) -> Option<&str> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(&self.text[start..end])
    }

    pub(super) fn bytes(&self, i: usize) -> Option<&[u8]> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.text.as_bytes().get(start..end)
    }

    /// Whether both hold the same ids in the same order.
    pub(super) fn same(&self, other: &LocalIds<'_>) -> bool {
        self.ends == other.ends && self.text == other.text
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &str> {
        (0..self.ends.len()).map(|i| self.get(i).unwrap_or_default())
    }
}
