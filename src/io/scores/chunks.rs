//! The fast path: the body cut into chunks at line boundaries and parsed in parallel, each row
//! checked against the predicted next ids or looked up, and stored straight into the grid (ids
//! known) or into the chunk's own table (ids unknown), merged in chunk order.

use super::*;

pub(super) fn split_chunks(body: &[u8]) -> Vec<Range<usize>> {
    let mut chunks = Vec::new();
    let mut start = 0;
    while start < body.len() {
        let mut end = (start + CHUNK).min(body.len());
        if end < body.len() {
            end = memchr::memchr(b'\n', &body[end..]).map_or(body.len(), |i| end + i + 1);
        }
        chunks.push(start..end);
        start = end;
    }
    chunks
}

#[derive(Clone, Copy, PartialEq)]
pub(super) struct Columns {
    pub(super) paper: usize,
    pub(super) reviewer: usize,
    pub(super) score: usize,
    pub(super) count: usize,
}

/// One file being read: its body (after the header) and how to parse a row.
pub(super) struct Reader<'s> {
    pub(super) src: &'s Source,
    pub(super) header_end: usize,
    pub(super) parser: Parser,
}

/// Why a pass over a chunk stopped early.
pub(super) enum Stop {
    /// A row the fast path does not read exactly as the general reader would (quotes, a lone
    /// carriage return, anything invalid): the general reader takes the whole file.
    Fallback,
    /// A chunk with rows in no order that names too many papers or reviewers of its own to
    /// keep them as compact records: the file is read in two passes (ids, then values).
    Sparse,
}

impl<'s> Reader<'s> {
    pub(super) fn body(&self) -> &'s [u8] {
        &self.src.bytes()[self.header_end..]
    }

    /// Parses the chunks `ranges` of `body` in parallel, handing each to `pass`, and gives each
    /// chunk's pages back to the system once parsed: the peak memory holds the grid, not the
    /// file.
    pub(super) fn chunks<'b, T: Send>(
        &self,
        body: &'b [u8],
        ranges: Vec<Range<usize>>,
        progress: bool,
        pass: impl Fn(&'b [u8]) -> Result<T, Stop> + Sync,
    ) -> Result<Vec<T>, Stop>
    where
        's: 'b,
    {
        let total = ranges.iter().map(|r| r.len() as u64).sum();
        let bar = crate::progress::bar(progress, total, "reading scores");
        let results: Vec<Result<T, Stop>> = ranges
            .into_par_iter()
            .map(|range| {
                let file = self.header_end + range.start..self.header_end + range.end;
                self.src.populate(file.clone());
                let r = pass(&body[range.clone()]);
                self.src.release(file);
                bar.inc(range.len() as u64);
                r
            })
            .collect();
        bar.finish_and_clear();
        let mut out = Vec::with_capacity(results.len());
        let mut sparse = false;
        for r in results {
            match r {
                Ok(t) => out.push(t),
                Err(Stop::Fallback) => return Err(Stop::Fallback),
                Err(Stop::Sparse) => sparse = true,
            }
        }
        if sparse {
            return Err(Stop::Sparse);
        }
        Ok(out)
    }

    /// Ids known up front (papers.csv and reviewers.csv): every chunk stores straight into the
    /// grid. Returns the grid and the number of rows stored.
    pub(super) fn fill_known(
        &self,
        papers: &Interner,
        reviewers: &Interner,
        progress: bool,
    ) -> Result<(Vec<i32>, u64), Stop> {
        let nr = reviewers.ids.len();
        let mut grid = zeroed_grid(papers.ids.len(), nr).ok_or(Stop::Fallback)?;
        let cells = atomic(&mut grid);
        let (paper_ids, reviewer_ids) = (IdMap::of(papers), IdMap::of(reviewers));
        let body = self.body();
        let rows = self.chunks(body, split_chunks(body), progress, |chunk| {
            let mut sink = Known {
                papers,
                reviewers,
                paper_ids: &paper_ids,
                reviewer_ids: &reviewer_ids,
                grid: cells,
                n_reviewers: nr,
                pending: [(0, 0); PENDING],
                n_pending: 0,
            };
            let rows = self.parser.parse(chunk, &mut sink)?;
            sink.flush()?;
            Ok(rows)
        })?;
        Ok((grid, rows.iter().sum()))
    }

    /// Ids interned here, in order of first appearance: each chunk keeps its own small table
    /// (its papers × the reviewers it met), merged in chunk order afterwards, so the file is
    /// read once. Rows in no order would leave that table mostly empty: the chunk then keeps
    /// its rows as 8-byte records, scattered into the grid at the merge. A file over
    /// [`TWO_PASSES_FROM`] bytes, or a chunk naming more than 65,536 papers or reviewers of its
    /// own, makes the file be read in two passes instead (ids, then [`Reader::fill_known`]).
    pub(super) fn fill_unknown(
        &self,
        papers: &mut Interner,
        reviewers: &mut Interner,
        progress: bool,
    ) -> Result<(Vec<i32>, u64), Stop> {
        let body = self.body();
        // A large file's chunk tables would add up to the grid itself (1.3 GB more at 16,000 ×
        // 20,000): read its ids first, then store straight into the grid.
        let parsed = if body.len() > TWO_PASSES_FROM {
            Err(Stop::Sparse)
        } else {
            self.chunks(body, split_chunks(body), progress, |chunk| {
                let mut local = Local::new(true, Some(chunk.len() / 8 + TABLE_SLACK));
                let rows = self.parser.parse(chunk, &mut local)?;
                local.done();
                Ok((local, rows))
            })
        };
        let locals = match parsed {
            Err(Stop::Sparse) => {
                // The first chunk's ids are interned before the others are read, and each later
                // chunk keeps only the ids not among them: a dense file's chunks each name every
                // reviewer, and their copies would otherwise take 650 MB at 16,000 × 20,000.
                let mut ranges = split_chunks(body);
                let rest = ranges.split_off(ranges.len().min(1));
                let ids_of = |chunk| {
                    let mut local = Local::new(false, None);
                    self.parser.parse(chunk, &mut local)?;
                    local.done();
                    Ok(local)
                };
                for local in self.chunks(body, ranges, progress, ids_of)? {
                    local.intern_into(papers, reviewers);
                }
                let (known_papers, known_reviewers) = (&*papers, &*reviewers);
                let new = self.chunks(body, rest, progress, |chunk| {
                    let local = ids_of(chunk)?;
                    let fresh = |ids: &LocalIds, known: &Interner| -> Vec<String> {
                        ids.iter()
                            .filter(|id| known.get(id).is_none())
                            .map(str::to_owned)
                            .collect()
                    };
                    Ok((
                        fresh(&local.papers, known_papers),
                        fresh(&local.reviewers, known_reviewers),
                    ))
                })?;
                for (ps, rs) in &new {
                    for id in ps {
                        papers.intern(id);
                    }
                    for id in rs {
                        reviewers.intern(id);
                    }
                }
                return self.fill_known(papers, reviewers, progress);
            }
            other => other?,
        };
        let mut maps: Vec<(Vec<u32>, Vec<u32>)> = Vec::with_capacity(locals.len());
        for (k, (local, _)) in locals.iter().enumerate() {
            // Chunks of a grouped file usually meet the same reviewers in the same order.
            let map = match k.checked_sub(1) {
                Some(prev) if locals[prev].0.reviewers.same(&local.reviewers) => {
                    let pmap = local.papers.iter().map(|id| papers.intern(id)).collect();
                    (pmap, maps[prev].1.clone())
                }
                _ => local.intern_into(papers, reviewers),
            };
            maps.push(map);
        }
        let nr = reviewers.ids.len();
        let mut grid = zeroed_grid(papers.ids.len(), nr).ok_or(Stop::Fallback)?;
        let cells = atomic(&mut grid);
        locals
            .par_iter()
            .zip(&maps)
            .for_each(|((local, _), (pmap, rmap))| {
                for (row, &p) in local.rows.iter().zip(pmap) {
                    let base = p as usize * nr;
                    for (&v, &r) in row.iter().zip(rmap) {
                        if v != 0 {
                            cells[base + r as usize].store(v, Ordering::Relaxed);
                        }
                    }
                }
                // Records land anywhere in the grid: each cell is prefetched a few records
                // ahead. A pair given twice is caught by counting (see `assemble`).
                let at = |record: u64| {
                    let (p, r) = ((record >> 48) as usize, (record >> 32 & 0xFFFF) as usize);
                    pmap[p] as usize * nr + rmap[r] as usize
                };
                const AHEAD: usize = 16;
                for (k, &record) in local.records.iter().enumerate() {
                    if let Some(&later) = local.records.get(k + AHEAD) {
                        prefetch(cells, at(later));
                    }
                    cells[at(record)].store(record as u32 as i32, Ordering::Relaxed);
                }
            });
        Ok((grid, locals.iter().map(|(_, rows)| rows).sum()))
    }
}

/// What a parsed row's ids and score go to.
pub(super) trait Sink<'b> {
    /// The index of a paper id met in the file (not the previous row's).
    fn paper(&mut self, id: &'b [u8]) -> Result<u32, Stop>;
    /// The index of a reviewer id met in the file (not the predicted one).
    fn reviewer(&mut self, id: &'b [u8]) -> Result<u32, Stop>;
    /// The id of reviewer `r`, if there is one: the prediction for the next row.
    fn reviewer_id(&self, r: u32) -> Option<&[u8]>;
    /// The id of paper `p`, if there is one: the prediction in a file grouped by reviewer.
    fn paper_id(&self, p: u32) -> Option<&[u8]>;
    /// Stores a score; a pair already stored stops the pass.
    fn put(&mut self, p: u32, r: u32, units: i32) -> Result<(), Stop>;
}

/// Ids known up front; scores go straight into the shared grid.
pub(super) struct Known<'a> {
    pub(super) papers: &'a Interner,
    pub(super) reviewers: &'a Interner,
    /// The same ids, for looking them up.
    pub(super) paper_ids: &'a IdMap<'a>,
    pub(super) reviewer_ids: &'a IdMap<'a>,
    pub(super) grid: &'a [AtomicI32],
    pub(super) n_reviewers: usize,
    /// Stores whose cells are being prefetched: rows in no particular order hit the grid at
    /// random, and a cache miss per row would otherwise bound the pass (several fold slower).
    pub(super) pending: [(usize, i32); PENDING],
    pub(super) n_pending: usize,
}

/// Asks for cell `at` of the grid (which must exist) to be brought into the cache.
#[inline(always)]
pub(super) fn prefetch(grid: &[AtomicI32], at: usize) {
    debug_assert!(at < grid.len());
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `at` is inside the grid, and a prefetch is a hint: it reads nothing and faults
    // on no address.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(grid.as_ptr().add(at) as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (grid, at);
}

/// Stores in flight in [`Known`].
pub(super) const PENDING: usize = 16;

impl Known<'_> {
    /// Makes the stores still pending.
    pub(super) fn flush(&mut self) -> Result<(), Stop> {
        // In any order: a pair stored twice fails whichever comes first.
        for k in 0..self.n_pending.min(PENDING) {
            let (at, units) = self.pending[k];
            self.store(at, units)?;
        }
        self.n_pending = 0;
        Ok(())
    }

    #[inline(always)]
    pub(super) fn store(&self, at: usize, units: i32) -> Result<(), Stop> {
        let cell = &self.grid[at];
        // Another chunk may store the same pair at the same moment and neither see the other:
        // that case is caught by counting stored pairs against rows.
        if cell.load(Ordering::Relaxed) != 0 {
            return Err(Stop::Fallback);
        }
        cell.store(encode(units), Ordering::Relaxed);
        Ok(())
    }
}

impl<'b> Sink<'b> for Known<'_> {
    fn paper(&mut self, id: &'b [u8]) -> Result<u32, Stop> {
        lookup(self.paper_ids, id)
    }

    fn reviewer(&mut self, id: &'b [u8]) -> Result<u32, Stop> {
        lookup(self.reviewer_ids, id)
    }

    fn reviewer_id(&self, r: u32) -> Option<&[u8]> {
        self.reviewers.ids.get(r as usize).map(String::as_bytes)
    }

    fn paper_id(&self, p: u32) -> Option<&[u8]> {
        self.papers.ids.get(p as usize).map(String::as_bytes)
    }

    #[inline]
    fn put(&mut self, p: u32, r: u32, units: i32) -> Result<(), Stop> {
        let at = p as usize * self.n_reviewers + r as usize;
        if at >= self.grid.len() {
            return Err(Stop::Fallback);
        }
        prefetch(self.grid, at);
        // The oldest pending store, whose cell has had the most time to arrive, is made now.
        let slot = self.n_pending % PENDING;
        if self.n_pending >= PENDING {
            let (old, old_units) = self.pending[slot];
            self.store(old, old_units)?;
        }
        self.pending[slot] = (at, units);
        self.n_pending += 1;
        Ok(())
    }
}

/// Ids found here; one chunk's scores in a table of its own (its papers × its reviewers).
pub(super) struct Local<'b> {
    pub(super) papers: LocalIds<'b>,
    pub(super) reviewers: LocalIds<'b>,
    /// Encoded cells by local paper, then local reviewer.
    pub(super) rows: Vec<Vec<i32>>,
    /// Once the table would be mostly empty (rows in no order), the chunk's rows instead, each
    /// as local paper (16 bits), local reviewer (16 bits) and encoded score.
    pub(super) records: Vec<u64>,
    pub(super) keep_scores: bool,
    pub(super) cells: usize,
    /// Most cells the table may hold before the chunk turns to records (`usize::MAX`: any; 0
    /// once it has).
    pub(super) cell_limit: usize,
}

impl Local<'_> {
    pub(super) fn new(keep_scores: bool, max_cells: Option<usize>) -> Self {
        Local {
            papers: LocalIds::default(),
            reviewers: LocalIds::default(),
            rows: Vec::new(),
            records: Vec::new(),
            keep_scores,
            cells: 0,
            cell_limit: max_cells.unwrap_or(usize::MAX),
        }
    }

    /// Drops what points into the file, once the chunk is parsed.
    pub(super) fn done(&mut self) {
        self.papers.map = IdMap::default();
        self.reviewers.map = IdMap::default();
    }

    /// Interns this chunk's ids into the venue's, returning the maps from local indices.
    pub(super) fn intern_into(
        &self,
        papers: &mut Interner,
        reviewers: &mut Interner,
    ) -> (Vec<u32>, Vec<u32>) {
        (
            self.papers.iter().map(|id| papers.intern(id)).collect(),
            self.reviewers
                .iter()
                .map(|id| reviewers.intern(id))
                .collect(),
        )
    }
}

impl<'b> Sink<'b> for Local<'b> {
    fn paper(&mut self, id: &'b [u8]) -> Result<u32, Stop> {
        let p = self.papers.intern(id)?;
        if self.keep_scores && self.cell_limit > 0 && p as usize == self.rows.len() {
            // A new paper usually meets the reviewers the previous one met.
            self.rows
                .push(Vec::with_capacity(self.reviewers.ends.len()));
        }
        Ok(p)
    }

    fn reviewer(&mut self, id: &'b [u8]) -> Result<u32, Stop> {
        self.reviewers.intern(id)
    }

    fn reviewer_id(&self, r: u32) -> Option<&[u8]> {
        self.reviewers.bytes(r as usize)
    }

    fn paper_id(&self, p: u32) -> Option<&[u8]> {
        self.papers.bytes(p as usize)
    }

    #[inline(always)]
    fn put(&mut self, p: u32, r: u32, units: i32) -> Result<(), Stop> {
        if !self.keep_scores {
            return Ok(());
        }
        // The usual row: the next reviewer of the paper, with room reserved.
        if self.cells < self.cell_limit {
            let row = &mut self.rows[p as usize];
            if r as usize == row.len() && row.len() < row.capacity() {
                self.cells += 1;
                row.push(encode(units));
                return Ok(());
            }
        }
        self.put_other(p, r, units)
    }
}

impl Local<'_> {
    #[cold]
    pub(super) fn put_other(&mut self, p: u32, r: u32, units: i32) -> Result<(), Stop> {
        if self.cell_limit == 0 {
            return self.record(p, r, encode(units));
        }
        let row = &mut self.rows[p as usize];
        let r = r as usize;
        // Reviewers come in order in a grouped file: the row grows by one.
        if r >= row.len() {
            let cells = self.cells + r + 1 - row.len();
            if cells > self.cell_limit {
                self.switch_to_records()?;
                return self.record(p, r as u32, encode(units));
            }
            self.cells = cells;
            if r > row.len() {
                row.resize(r, 0);
            }
            row.push(encode(units));
            return Ok(());
        }
        if row[r] != 0 {
            return Err(Stop::Fallback);
        }
        row[r] = encode(units);
        Ok(())
    }

    /// Turns the table into records: rows in no order would leave it mostly empty.
    pub(super) fn switch_to_records(&mut self) -> Result<(), Stop> {
        let rows = std::mem::take(&mut self.rows);
        self.records.reserve(self.cells * 2);
        for (p, row) in rows.iter().enumerate() {
            for (r, &cell) in row.iter().enumerate() {
                if cell != 0 {
                    self.record(p as u32, r as u32, cell)?;
                }
            }
        }
        self.cell_limit = 0;
        Ok(())
    }

    /// Keeps one row as a record; a chunk with more than [`MAX_LOCAL_IDS`] papers or reviewers
    /// of its own is left to the two-pass read.
    pub(super) fn record(&mut self, p: u32, r: u32, cell: i32) -> Result<(), Stop> {
        if p >= MAX_LOCAL_IDS || r >= MAX_LOCAL_IDS {
            return Err(Stop::Sparse);
        }
        self.records
            .push((p as u64) << 48 | (r as u64) << 32 | cell as u32 as u64);
        Ok(())
    }
}

/// Splits rows and parses scores.
pub(super) struct Parser {
    pub(super) cols: Columns,
    pub(super) allow_any: bool,
    /// `paper_id,reviewer_id,score` and nothing else: the layout the fast path reads.
    pub(super) plain: bool,
    /// The score range in units.
    pub(super) range: std::ops::RangeInclusive<i64>,
}

impl Parser {
    pub(super) fn new(cols: Columns, allow_any: bool) -> Parser {
        Parser {
            cols,
            allow_any,
            plain: cols
                == Columns {
                    paper: 0,
                    reviewer: 1,
                    score: 2,
                    count: 3,
                },
            range: if allow_any {
                -MAX_ABS_SCORE * SCORE_SCALE..=MAX_ABS_SCORE * SCORE_SCALE
            } else {
                0..=SCORE_SCALE
            },
        }
    }

    /// Parses the rows of `chunk` into `sink`, returning how many rows it stored.
    ///
    /// Most rows of a real file repeat the previous row's paper and name the reviewer after the
    /// previous row's: the fast path checks exactly that with two byte comparisons and parses a
    /// plain decimal. Any other row goes through the line path, which splits the line, trims
    /// fields and looks ids up. Both accept only rows the general reader reads the same way;
    /// anything else stops the pass ([`Stop::Fallback`]).
    pub(super) fn parse<'b, S: Sink<'b>>(
        &self,
        chunk: &'b [u8],
        sink: &mut S,
    ) -> Result<u64, Stop> {
        let mut rows = 0;
        let mut i = 0;
        let mut paper: (&[u8], u32) = (&[], 0);
        let mut reviewer: (&[u8], u32) = (&[], u32::MAX);
        // Whether rows run down a reviewer's papers (the file grouped by reviewer) rather than
        // along a paper's reviewers; the line path learns it from the last two rows.
        let mut down = false;
        while i < chunk.len() {
            if self.plain {
                let row = &chunk[i..];
                if down {
                    let next = paper.1.wrapping_add(1);
                    let predicted = sink.paper_id(next);
                    let lp = predicted.map_or(0, <[u8]>::len);
                    if let Some((units, len)) = self.fast_row(row, predicted, Some(reviewer.0)) {
                        sink.put(next, reviewer.1, units)?;
                        paper = (&row[..lp], next);
                        rows += 1;
                        i += len;
                        continue;
                    }
                } else {
                    let next = reviewer.1.wrapping_add(1);
                    let predicted = sink.reviewer_id(next);
                    let lr = predicted.map_or(0, <[u8]>::len);
                    if let Some((units, len)) = self.fast_row(row, Some(paper.0), predicted) {
                        sink.put(paper.1, next, units)?;
                        let at = paper.0.len() + 1;
                        reviewer = (&row[at..at + lr], next);
                        rows += 1;
                        i += len;
                        continue;
                    }
                }
            }
            let fields = match self.plain.then(|| plain_line(&chunk[i..])).flatten() {
                Some((fields, len)) => {
                    i += len;
                    fields
                }
                None => {
                    let end = memchr::memchr(b'\n', &chunk[i..]).map_or(chunk.len(), |e| i + e);
                    let line = &chunk[i..end];
                    i = end + 1;
                    let Some(fields) = self.fields(line)? else {
                        continue;
                    };
                    fields
                }
            };
            let [p_id, r_id, score] = fields;
            let p = if p_id == paper.0 {
                paper.1
            } else {
                sink.paper(p_id)?
            };
            let guess = reviewer.1.wrapping_add(1);
            let r = if r_id == reviewer.0 {
                reviewer.1
            } else if sink.reviewer_id(guess) == Some(r_id) {
                guess
            } else {
                sink.reviewer(r_id)?
            };
            let units = check_score(score, self.allow_any).map_err(|_| Stop::Fallback)?;
            sink.put(p, r, units)?;
            down = r == reviewer.1 && p != paper.1;
            (paper, reviewer) = ((p_id, p), (r_id, r));
            rows += 1;
        }
        Ok(rows)
    }

    /// A row that is `<paper>,<reviewer>,<plain decimal>` followed by a line end (or the end of
    /// the chunk), with the score in range: its score and length.
    #[inline(always)]
    pub(super) fn fast_row(
        &self,
        row: &[u8],
        paper: Option<&[u8]>,
        reviewer: Option<&[u8]>,
    ) -> Option<(i32, usize)> {
        let (paper, reviewer) = (paper?, reviewer?);
        let (lp, lr) = (paper.len(), reviewer.len());
        let score_at = lp + lr + 2;
        if lp == 0
            || row.len() <= score_at
            || row[lp] != b','
            || row[score_at - 1] != b','
            || !same(&row[..lp], paper)
            || !same(&row[lp + 1..score_at - 1], reviewer)
        {
            return None;
        }
        let (units, len) = plain_decimal(&row[score_at..])?;
        self.range
            .contains(&units)
            .then_some((units as i32, score_at + len))
    }

    /// Splits one line into its three fields, trimmed; `None` for an empty line, which the
    /// general reader skips too. Anything it might read otherwise (quotes, a carriage return
    /// inside the line, which it takes for a line end, a field count off the header's, an empty
    /// field) stops the pass.
    pub(super) fn fields<'b>(&self, raw: &'b [u8]) -> Result<Option<Fields<'b>>, Stop> {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.is_empty() {
            return Ok(None);
        }
        if memchr::memchr2(b'"', b'\r', raw).is_some() {
            return Err(Stop::Fallback);
        }
        let mut picked: Fields<'b> = [&raw[..0]; 3];
        let mut n = 0;
        let mut start = 0;
        loop {
            let end = memchr::memchr(b',', &raw[start..]).map_or(raw.len(), |i| start + i);
            let field = &raw[start..end];
            if n == self.cols.paper {
                picked[0] = field;
            } else if n == self.cols.reviewer {
                picked[1] = field;
            } else if n == self.cols.score {
                picked[2] = field;
            }
            n += 1;
            if end == raw.len() {
                break;
            }
            start = end + 1;
        }
        if n != self.cols.count {
            return Err(Stop::Fallback);
        }
        for field in &mut picked {
            *field = field.trim_ascii();
            if field.is_empty() {
                return Err(Stop::Fallback);
            }
        }
        Ok(Some(picked))
    }
}

/// A line `a,b,c` with three non-empty fields, no quote, no carriage return but one just before
/// the line end, and no space at either end of a field: its fields and its length with the line
/// end, found in one pass over its bytes (cheaper than four searches on short lines). `None`
/// for anything else, which [`Parser::fields`] then reads.
#[inline(always)]
pub(super) fn plain_line(rest: &[u8]) -> Option<(Fields<'_>, usize)> {
    let (mut first, mut second) = (usize::MAX, usize::MAX);
    let mut end = rest.len();
    for (k, &b) in rest.iter().enumerate() {
        match b {
            b',' if first == usize::MAX => first = k,
            b',' if second == usize::MAX => second = k,
            b'\n' => {
                end = k;
                break;
            }
            b'\r' if rest.get(k + 1) == Some(&b'\n') => {
                end = k + 1;
                break;
            }
            b',' | b'"' | b'\r' => return None,
            _ => {}
        }
    }
    let len = (end + 1).min(rest.len());
    let line = rest[..end].strip_suffix(b"\r").unwrap_or(&rest[..end]);
    if second == usize::MAX {
        return None;
    }
    let fields = [
        &line[..first],
        &line[first + 1..second],
        &line[second + 1..],
    ];
    let clean = |f: &[u8]| {
        f.first().is_some_and(|b| !b.is_ascii_whitespace())
            && f.last().is_some_and(|b| !b.is_ascii_whitespace())
    };
    fields.iter().all(|f| clean(f)).then_some((fields, len))
}

/// Fields of one line: paper id, reviewer id, score, as trimmed bytes.
pub(super) type Fields<'b> = [&'b [u8]; 3];

/// Equality of two slices of equal length, in whole-word compares: ids are short, and a call
/// to `memcmp` per field costs more than the comparison.
#[inline(always)]
pub(super) fn same(a: &[u8], b: &[u8]) -> bool {
    debug_assert_eq!(a.len(), b.len());
    let n = a.len();
    let word = |s: &[u8], i: usize| u64::from_le_bytes(s[i..i + 8].try_into().expect("8 bytes"));
    let half = |s: &[u8], i: usize| u32::from_le_bytes(s[i..i + 4].try_into().expect("4 bytes"));
    match n {
        // The first words, then the last one (overlapping).
        8.. => {
            let mut i = 0;
            while i + 8 < n {
                if word(a, i) != word(b, i) {
                    return false;
                }
                i += 8;
            }
            word(a, n - 8) == word(b, n - 8)
        }
        4..=7 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        _ => a.iter().zip(b).all(|(x, y)| x == y),
    }
}
