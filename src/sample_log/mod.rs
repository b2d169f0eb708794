//! The sample store: every accepted sample, appended to segment files on
//! disk. It feeds full retrains and is the agent's durability log.
//!
//! Layout: `<data_dir>/samples/<name>/seg_<NNNNNN>_<start_ms>.log`, numbered
//! from 1, a new segment once one passes `segment_bytes`. Each record holds
//! one accepted `ingest` call:
//!
//! ```text
//! len u32 | crc32 u32 | first_sample u64 | time_ms u64 | rows u32 | width u32 | rows*width f32 | rows f32 (labels)
//! ```
//!
//! or, for a sparse model (width `u32::MAX`), after the same fixed part:
//! `dim u32 | nnz u32 | (rows+1) u32 offsets | nnz u32 indices | nnz f32
//! values | rows f32 labels`.
//!
//! little-endian, `len` the byte length of everything after `crc32`, which
//! covers the same bytes. Appends reach the operating system at once
//! (visible to readers); [`SampleLog::sync`] makes them durable (fsync).
//! In the agent, the log's disk work runs on a thread of its own
//! (`writer`); only an append under `durability = "none"` to an open
//! segment is written from the actix thread Ingest runs on.
//! Retention drops whole segments: those entirely older than `max_age`, and
//! the oldest while the total passes `max_bytes` (never the one being
//! written). A reader stops a segment at its first bad or truncated record
//! (a torn tail after a crash) and reports it.
//!
//! ```
//! # let dir = tempfile::tempdir().unwrap();
//! use refit::sample_log::{SampleLog, read_recent};
//! let clock = refit::clock::system();
//! let mut log = SampleLog::open(dir.path(), 2, 1 << 20, clock).unwrap();
//! log.append(0, &[1.0, 2.0, 3.0, 4.0], &[0.0, 1.0]).unwrap();
//! log.append(2, &[5.0, 6.0], &[1.0]).unwrap();
//! log.sync().unwrap();
//! let read = read_recent(dir.path(), 2, 10).unwrap();
//! assert_eq!(read.rows.dense().unwrap(), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
//! assert_eq!(read.labels, [0.0, 1.0, 1.0]);
//! assert_eq!((read.records, read.bad_records), (2, 0));
//! ```

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use refit_plugin::InputKind;

pub(crate) mod writer;

use crate::clock::Clock;
use crate::rows::{Rows, SparseRows};
use crate::storage::{Storage, WriteFile};

const HEADER: usize = 8;
const FIXED: usize = 8 + 8 + 4 + 4;
/// The width field of a sparse record.
const SPARSE: u32 = u32::MAX;

/// An open segment being appended to.
struct Segment {
    number: u64,
    file: BufWriter<Box<dyn WriteFile>>,
    bytes: u64,
}

/// The writer (see the module docs).
pub struct SampleLog {
    dir: PathBuf,
    width: usize,
    segment_bytes: u64,
    clock: Arc<dyn Clock>,
    current: Option<Segment>,
    next: u64,
    storage: Arc<dyn Storage>,
}

/// A segment file on disk: number, start time, path.
fn segments(dir: &Path) -> std::io::Result<Vec<(u64, u64, PathBuf)>> {
    let mut found = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let path = entry?.path();
        let Some(stem) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("seg_"))
            .and_then(|n| n.strip_suffix(".log"))
        else {
            continue;
        };
        let mut parts = stem.split('_');
        if let (Some(Ok(n)), Some(Ok(t))) = (
            parts.next().map(str::parse::<u64>),
            parts.next().map(str::parse::<u64>),
        ) {
            found.push((n, t, path));
        }
    }
    found.sort();
    Ok(found)
}

impl SampleLog {
    /// Opens the log in `dir` for rows of `width` features; appends go to a
    /// new segment after the highest one found.
    pub fn open(
        dir: &Path,
        width: usize,
        segment_bytes: u64,
        clock: Arc<dyn Clock>,
    ) -> std::io::Result<Self> {
        Self::open_with(dir, width, segment_bytes, clock, crate::storage::disk())
    }

    /// [`SampleLog::open`], writing through `storage`.
    pub fn open_with(
        dir: &Path,
        width: usize,
        segment_bytes: u64,
        clock: Arc<dyn Clock>,
        storage: Arc<dyn Storage>,
    ) -> std::io::Result<Self> {
        storage.create_dir_all(dir)?;
        let next = segments(dir)?.last().map_or(1, |s| s.0 + 1);
        Ok(Self {
            dir: dir.to_owned(),
            width,
            segment_bytes: segment_bytes.max(1),
            clock,
            current: None,
            next,
            storage,
        })
    }

    /// The log's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether the next append goes to the open segment, with no segment
    /// to create or rotate first.
    pub(crate) fn has_room(&self) -> bool {
        self.current
            .as_ref()
            .is_some_and(|s| s.bytes < self.segment_bytes)
    }

    /// The number the next segment will get (it grows when one starts).
    pub(crate) fn next_segment(&self) -> u64 {
        self.next
    }

    fn segment(&mut self) -> std::io::Result<&mut Segment> {
        let full = self
            .current
            .as_ref()
            .is_some_and(|s| s.bytes >= self.segment_bytes);
        if full && let Some(mut old) = self.current.take() {
            old.file.flush()?;
            old.file.get_mut().sync()?;
        }
        if self.current.is_none() {
            let number = self.next;
            self.next += 1;
            let path = self
                .dir
                .join(format!("seg_{number:06}_{}.log", self.clock.now_ms()));
            let file = self.storage.create_new_append(&path)?;
            self.storage.sync_dir(&self.dir)?;
            self.current = Some(Segment {
                number,
                file: BufWriter::new(file),
                bytes: 0,
            });
        }
        self.current
            .as_mut()
            .ok_or_else(|| std::io::Error::other("no open segment"))
    }

    /// Appends one accepted batch (its samples are numbered from
    /// `first_sample`); the bytes reach the operating system before this
    /// returns.
    pub fn append(
        &mut self,
        first_sample: u64,
        rows: &[f32],
        labels: &[f32],
    ) -> std::io::Result<()> {
        let payload = encode_dense(first_sample, self.clock.now_ms(), rows, labels, self.width)?;
        self.write_record(&payload)
    }

    /// Appends one accepted batch, dense or sparse.
    pub fn append_rows(
        &mut self,
        first_sample: u64,
        rows: &Rows,
        labels: &[f32],
    ) -> std::io::Result<()> {
        let payload = encode(first_sample, self.clock.now_ms(), rows, labels, self.width)?;
        self.write_record(&payload)
    }

    /// Appends a record encoded by [`encode`] (for the writer thread, which
    /// gets records encoded by Ingest).
    pub(crate) fn append_encoded(&mut self, payload: &[u8]) -> std::io::Result<()> {
        self.write_record(payload)
    }

    fn write_record_to_segment(&mut self, payload: &[u8]) -> std::io::Result<()> {
        let seg = self.segment()?;
        seg.file.write_all(&(payload.len() as u32).to_le_bytes())?;
        seg.file
            .write_all(&crc32fast::hash(payload).to_le_bytes())?;
        seg.file.write_all(payload)?;
        seg.file.flush()?;
        seg.bytes += (HEADER + payload.len()) as u64;
        Ok(())
    }

    fn write_record(&mut self, payload: &[u8]) -> std::io::Result<()> {
        let written = self.write_record_to_segment(payload);
        if written.is_err()
            && let Some(torn) = self.current.take()
        {
            // The segment may end in a torn record now (readers stop
            // there); later records go to a new segment. What is still
            // buffered is dropped, not written after the tear.
            drop(torn.file.into_parts());
        }
        written
    }

    /// Makes every appended record durable (fsync).
    pub fn sync(&mut self) -> std::io::Result<()> {
        if let Some(seg) = &mut self.current {
            seg.file.flush()?;
            seg.file.get_mut().sync()?;
        }
        Ok(())
    }

    /// Deletes whole segments older than `max_age` (every record before the
    /// next segment's start) and the oldest while the total size passes
    /// `max_bytes`; never the segment being written. Returns the deleted
    /// paths.
    pub fn apply_retention(
        &mut self,
        max_age: Duration,
        max_bytes: u64,
    ) -> std::io::Result<Vec<PathBuf>> {
        let all = segments(&self.dir)?;
        let current = self.current.as_ref().map(|s| s.number);
        let now = self.clock.now_ms();
        let cutoff = now.saturating_sub(u64::try_from(max_age.as_millis()).unwrap_or(u64::MAX));
        let mut sizes: Vec<u64> = all
            .iter()
            .map(|s| std::fs::metadata(&s.2).map_or(0, |m| m.len()))
            .collect();
        let mut total: u64 = sizes.iter().sum();
        let mut removed = Vec::new();
        for (i, (number, _, path)) in all.iter().enumerate() {
            if Some(*number) == current {
                break;
            }
            // Every record of segment i is older than segment i+1's start.
            let ends_before = all.get(i + 1).map_or(now, |next| next.1);
            if ends_before < cutoff || total > max_bytes {
                self.storage.remove(path)?;
                total -= sizes[i];
                sizes[i] = 0;
                removed.push(path.clone());
            } else {
                break;
            }
        }
        Ok(removed)
    }
}

/// A record's payload so far: `first_sample | time_ms | rows | width`,
/// with room for `rest` more bytes.
fn fixed_part(first_sample: u64, time_ms: u64, rows: usize, width: u32, rest: usize) -> Vec<u8> {
    let mut payload = Vec::with_capacity(FIXED + rest);
    payload.extend_from_slice(&first_sample.to_le_bytes());
    payload.extend_from_slice(&time_ms.to_le_bytes());
    payload.extend_from_slice(&(rows as u32).to_le_bytes());
    payload.extend_from_slice(&width.to_le_bytes());
    payload
}

fn encode_dense(
    first_sample: u64,
    time_ms: u64,
    rows: &[f32],
    labels: &[f32],
    width: usize,
) -> std::io::Result<Vec<u8>> {
    let n = labels.len();
    if rows.len() != n * width {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} values for {n} rows of {width}", rows.len()),
        ));
    }
    let mut payload = fixed_part(first_sample, time_ms, n, width as u32, 4 * (rows.len() + n));
    for v in rows.iter().chain(labels) {
        payload.extend_from_slice(&v.to_le_bytes());
    }
    Ok(payload)
}

/// The payload of one record (see the module docs): `rows` (dense of
/// `width` features, or sparse) and their `labels`, numbered from
/// `first_sample`, logged at `time_ms`.
pub(crate) fn encode(
    first_sample: u64,
    time_ms: u64,
    rows: &Rows,
    labels: &[f32],
    width: usize,
) -> std::io::Result<Vec<u8>> {
    let s = match rows {
        Rows::Dense(v) => return encode_dense(first_sample, time_ms, v, labels, width),
        Rows::Sparse(s) => s,
    };
    let n = labels.len();
    if s.rows() != n {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} sparse rows for {n} labels", s.rows()),
        ));
    }
    let nnz = s.indices.len();
    let rest = 8 + 4 * (n + 1 + 2 * nnz + n);
    let mut payload = fixed_part(first_sample, time_ms, n, SPARSE, rest);
    payload.extend_from_slice(&(s.dim as u32).to_le_bytes());
    payload.extend_from_slice(&(nnz as u32).to_le_bytes());
    for o in &s.offsets {
        payload.extend_from_slice(&(*o as u32).to_le_bytes());
    }
    for i in &s.indices {
        payload.extend_from_slice(&i.to_le_bytes());
    }
    for v in s.values.iter().chain(labels) {
        payload.extend_from_slice(&v.to_le_bytes());
    }
    Ok(payload)
}

/// One whole record (length, CRC-32, payload), as a segment stores it and
/// as fleet mode's sample stream carries it in one message: `rows` and
/// `labels` numbered from `first_sample`, at `time_ms`.
pub fn encode_record(
    first_sample: u64,
    time_ms: u64,
    rows: &Rows,
    labels: &[f32],
    width: usize,
) -> std::io::Result<Vec<u8>> {
    let payload = encode(first_sample, time_ms, rows, labels, width)?;
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    Ok(out)
}

/// A record made by [`encode_record`]: its first sample's number, rows and
/// labels; `None` when it is damaged or not of this input and width.
///
/// ```
/// use refit::rows::Rows;
/// use refit::plugins::InputKind;
/// let bytes = refit::sample_log::encode_record(7, 0, &Rows::Dense(vec![1.0, 2.0]), &[1.0], 2).unwrap();
/// let (first, rows, labels) = refit::sample_log::decode_record(&bytes, InputKind::Dense, 2).unwrap();
/// assert_eq!((first, rows, labels), (7, Rows::Dense(vec![1.0, 2.0]), vec![1.0]));
/// assert!(refit::sample_log::decode_record(&bytes[..bytes.len() - 1], InputKind::Dense, 2).is_none());
/// ```
pub fn decode_record(
    bytes: &[u8],
    input: InputKind,
    width: usize,
) -> Option<(u64, Rows, Vec<f32>)> {
    let (len, first, rows, labels) = match input {
        InputKind::Dense => record(bytes, width)
            .map(|(len, first, rows, labels)| (len, first, Rows::Dense(rows), labels))?,
        InputKind::Sparse => sparse_record(bytes, width)?,
    };
    (len == bytes.len()).then_some((first, rows, labels))
}

/// When the oldest segment still in the log in `dir` was started (ms since
/// the epoch, by the log's clock); none for an empty log.
pub fn first_segment_ms(dir: &Path) -> std::io::Result<Option<u64>> {
    Ok(segments(dir)?.first().map(|s| s.1))
}

/// A sample log shared by the replicas of a fleet (fleet mode's
/// JetStream stream, [`crate::fleet`]): in fleet mode Ingest appends every
/// accepted call to it instead of the local log, and full retrains read
/// it.
pub trait SharedLog: Send + Sync {
    /// Stores one ingest call's samples (numbered from `first_sample` by
    /// this replica); resolves once they are stored, to their position in
    /// the shared log, or to why they are not (then nothing is stored,
    /// unless the answer was lost: a retry under the same `key` is then
    /// stored once).
    fn append(
        &self,
        first_sample: u64,
        time_ms: u64,
        samples: (Rows, Vec<f32>),
        key: Option<String>,
    ) -> futures::future::BoxFuture<'static, Result<u64, String>>;

    /// The newest `max_rows` stored samples, oldest first (blocks the
    /// calling thread).
    fn newest(&self, max_rows: usize) -> Result<ReadBack, String>;
}

/// Samples read back from a log.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadBack {
    /// The rows, oldest first.
    pub rows: Rows,
    /// Labels.
    pub labels: Vec<f32>,
    /// Index of the first sample returned (none when empty).
    pub first_sample: Option<u64>,
    /// One past the index of the last sample returned (none when empty).
    pub end_sample: Option<u64>,
    /// Good records read.
    pub records: usize,
    /// Bad or truncated records met (each ends its segment).
    pub bad_records: usize,
}

/// Reads every good record of the log in `dir` (dense rows of `width`),
/// keeping the most recent `max_rows` samples.
pub fn read_recent(dir: &Path, width: usize, max_rows: usize) -> std::io::Result<ReadBack> {
    read_rows(dir, InputKind::Dense, width, max_rows)
}

/// The good records of one segment file, in order: (first sample, rows,
/// labels); a bad or truncated record ends the segment (counted in
/// `bad_records`).
fn segment_records(
    path: &Path,
    input: InputKind,
    width: usize,
    bad_records: &mut usize,
) -> std::io::Result<Vec<(u64, Rows, Vec<f32>)>> {
    let mut bytes = Vec::new();
    File::open(path)?.read_to_end(&mut bytes)?;
    let mut records = Vec::new();
    let mut at = 0usize;
    while at < bytes.len() {
        let parsed = match input {
            InputKind::Dense => record(&bytes[at..], width)
                .map(|(len, first, rows, labels)| (len, first, Rows::Dense(rows), labels)),
            InputKind::Sparse => sparse_record(&bytes[at..], width),
        };
        match parsed {
            Some((len, first, rows, labels)) => {
                records.push((first, rows, labels));
                at += len;
            }
            None => {
                *bad_records += 1;
                tracing::warn!(path = %path.display(), offset = at, "sample log: bad record; rest of the segment skipped");
                break;
            }
        }
    }
    Ok(records)
}

/// Puts `batches` into `out`, skipping their first `skip` samples.
/// The newest `max_rows` samples of `batches` (first sample, rows,
/// labels; oldest first) as one read-back.
#[cfg(feature = "fleet")]
pub(crate) fn newest_of(
    batches: Vec<(u64, Rows, Vec<f32>)>,
    input: InputKind,
    width: usize,
    max_rows: usize,
) -> ReadBack {
    let mut out = empty(input, width);
    out.records = batches.len();
    let total: usize = batches.iter().map(|b| b.2.len()).sum();
    collect(&mut out, batches, total.saturating_sub(max_rows), width);
    out
}

fn collect(out: &mut ReadBack, batches: Vec<(u64, Rows, Vec<f32>)>, mut skip: usize, width: usize) {
    for (first, rows, labels) in batches {
        let n = labels.len();
        if skip >= n {
            skip -= n;
            continue;
        }
        if out.first_sample.is_none() {
            out.first_sample = Some(first + skip as u64);
        }
        let rows = match rows {
            Rows::Dense(v) => Rows::Dense(v[skip * width..].to_vec()),
            Rows::Sparse(s) => Rows::Sparse(s.slice(skip, s.rows())),
        };
        // Every record was parsed as the accumulator's kind.
        let _ = out.rows.append(&rows);
        out.labels.extend_from_slice(&labels[skip..]);
        out.end_sample = Some(first + n as u64);
        skip = 0;
    }
}

fn empty(input: InputKind, width: usize) -> ReadBack {
    ReadBack {
        rows: Rows::empty(input, width),
        labels: Vec::new(),
        first_sample: None,
        end_sample: None,
        records: 0,
        bad_records: 0,
    }
}

/// Reads the good records of the log in `dir` whose rows are of `input`
/// kind with `width` features (dense) or `width` coordinates (sparse),
/// keeping the most recent `max_rows` samples. Segments older than those
/// are not read (`records` and `bad_records` count the segments read).
pub fn read_rows(
    dir: &Path,
    input: InputKind,
    width: usize,
    max_rows: usize,
) -> std::io::Result<ReadBack> {
    let mut out = empty(input, width);
    // Newest segment first, stopping once `max_rows` are in hand: memory is
    // bounded by `max_rows` and one segment, not by the log's size.
    let mut newest_first: Vec<Vec<(u64, Rows, Vec<f32>)>> = Vec::new();
    let mut total = 0usize;
    for (_, _, path) in segments(dir)?.iter().rev() {
        let segment = segment_records(path, input, width, &mut out.bad_records)?;
        out.records += segment.len();
        total += segment.iter().map(|r| r.2.len()).sum::<usize>();
        newest_first.push(segment);
        if total >= max_rows {
            break;
        }
    }
    let batches = newest_first.into_iter().rev().flatten().collect();
    collect(&mut out, batches, total.saturating_sub(max_rows), width);
    Ok(out)
}

/// Reads every logged sample numbered `from` or later, oldest first: what
/// a model that has learned the samples before `from` still has to learn
/// (the replay at start-up). Segments that end before `from` are not kept
/// in memory.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// use refit::sample_log::{SampleLog, end_sample, read_from};
/// use refit::plugins::InputKind;
/// let mut log = SampleLog::open(dir.path(), 1, 1 << 20, refit::clock::system()).unwrap();
/// log.append(0, &[1.0, 2.0, 3.0], &[0.0, 1.0, 0.0]).unwrap();
/// log.append(3, &[4.0], &[1.0]).unwrap();
/// let rest = read_from(dir.path(), InputKind::Dense, 1, 2).unwrap();
/// assert_eq!(rest.rows.dense().unwrap(), [3.0, 4.0]);
/// assert_eq!((rest.first_sample, rest.end_sample), (Some(2), Some(4)));
/// assert_eq!(end_sample(dir.path(), InputKind::Dense, 1).unwrap(), 4);
/// ```
pub fn read_from(
    dir: &Path,
    input: InputKind,
    width: usize,
    from: u64,
) -> std::io::Result<ReadBack> {
    let mut out = empty(input, width);
    let mut batches = Vec::new();
    for (_, _, path) in segments(dir)? {
        let segment = segment_records(&path, input, width, &mut out.bad_records)?;
        out.records += segment.len();
        batches.extend(
            segment
                .into_iter()
                .filter(|(first, _, labels)| first + labels.len() as u64 > from),
        );
    }
    let skip = batches
        .first()
        .map_or(0, |(first, _, _)| from.saturating_sub(*first) as usize);
    collect(&mut out, batches, skip, width);
    Ok(out)
}

/// The number the next logged sample gets: one past the newest good
/// record's last sample (0 for an empty log). Reads segments newest first
/// until one has a good record.
pub fn end_sample(dir: &Path, input: InputKind, width: usize) -> std::io::Result<u64> {
    let mut bad = 0;
    for (_, _, path) in segments(dir)?.iter().rev() {
        let records = segment_records(path, input, width, &mut bad)?;
        if let Some(end) = records
            .iter()
            .map(|(first, _, labels)| first + labels.len() as u64)
            .max()
        {
            return Ok(end);
        }
    }
    Ok(0)
}

/// Parses one sparse record over `dim` coordinates at the start of `b`, or
/// `None` when it is truncated, corrupt, dense or of another `dim`.
fn sparse_record(b: &[u8], dim: usize) -> Option<(usize, u64, Rows, Vec<f32>)> {
    let u32_at =
        |o: usize| -> Option<u32> { Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?)) };
    let len = u32_at(0)? as usize;
    let crc = u32_at(4)?;
    let payload = b.get(HEADER..HEADER + len)?;
    if crc32fast::hash(payload) != crc || len < FIXED + 8 {
        return None;
    }
    let p32 = |o: usize| -> Option<u32> {
        Some(u32::from_le_bytes(payload.get(o..o + 4)?.try_into().ok()?))
    };
    let first = u64::from_le_bytes(payload.get(0..8)?.try_into().ok()?);
    let n = p32(16)? as usize;
    if p32(20)? != SPARSE || p32(FIXED)? as usize != dim {
        return None;
    }
    let nnz = p32(FIXED + 4)? as usize;
    let base = FIXED + 8;
    if len != base + 4 * (n + 1 + 2 * nnz + n) {
        return None;
    }
    let words = |from: usize, count: usize| {
        payload[from..from + 4 * count]
            .chunks_exact(4)
            .map(|c| [c[0], c[1], c[2], c[3]])
            .collect::<Vec<_>>()
    };
    let offsets: Vec<usize> = words(base, n + 1)
        .into_iter()
        .map(|w| u32::from_le_bytes(w) as usize)
        .collect();
    let at = base + 4 * (n + 1);
    let indices: Vec<u32> = words(at, nnz).into_iter().map(u32::from_le_bytes).collect();
    let at = at + 4 * nnz;
    let values: Vec<f32> = words(at, nnz).into_iter().map(f32::from_le_bytes).collect();
    let labels: Vec<f32> = words(at + 4 * nnz, n)
        .into_iter()
        .map(f32::from_le_bytes)
        .collect();
    let rows = SparseRows {
        offsets,
        indices,
        values,
        dim,
    };
    // The CRC matched, but the arrays must also fit together.
    rows.batch().ok()?;
    Some((HEADER + len, first, Rows::Sparse(rows), labels))
}

/// Parses one record at the start of `b`: (its length, first sample, rows,
/// labels), or `None` when it is truncated, corrupt or of another width.
fn record(b: &[u8], width: usize) -> Option<(usize, u64, Vec<f32>, Vec<f32>)> {
    let u32_at =
        |o: usize| -> Option<u32> { Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?)) };
    let len = u32_at(0)? as usize;
    let crc = u32_at(4)?;
    let payload = b.get(HEADER..HEADER + len)?;
    if crc32fast::hash(payload) != crc || len < FIXED {
        return None;
    }
    let first = u64::from_le_bytes(payload.get(0..8)?.try_into().ok()?);
    let n = u32::from_le_bytes(payload.get(16..20)?.try_into().ok()?) as usize;
    let w = u32::from_le_bytes(payload.get(20..24)?.try_into().ok()?) as usize;
    if w != width || len != FIXED + 4 * n * (width + 1) {
        return None;
    }
    let floats: Vec<f32> = payload[FIXED..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let (rows, labels) = floats.split_at(n * width);
    Some((HEADER + len, first, rows.to_vec(), labels.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn reading_the_newest_rows_reads_only_the_segments_they_are_in() {
        let dir = tempfile::tempdir().unwrap();
        // One record per segment.
        let mut log = SampleLog::open(dir.path(), 1, 10, crate::clock::system()).unwrap();
        for i in 0..10u64 {
            log.append(i, &[i as f32], &[(i % 2) as f32]).unwrap();
        }
        log.sync().unwrap();
        assert_eq!(segments(dir.path()).unwrap().len(), 10);
        let read = read_recent(dir.path(), 1, 3).unwrap();
        assert_eq!(read.rows.dense().unwrap(), [7.0, 8.0, 9.0]);
        assert_eq!((read.first_sample, read.records), (Some(7), 3));
        let all = read_recent(dir.path(), 1, 100).unwrap();
        assert_eq!((all.labels.len(), all.records), (10, 10));
    }

    #[test]
    fn a_torn_tail_is_skipped_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = SampleLog::open(dir.path(), 1, 1 << 20, crate::clock::system()).unwrap();
        log.append(0, &[1.0], &[0.0]).unwrap();
        log.append(1, &[2.0], &[1.0]).unwrap();
        log.sync().unwrap();
        let path = segments(dir.path()).unwrap()[0].2.clone();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        let read = read_recent(dir.path(), 1, 10).unwrap();
        assert_eq!(
            (read.labels.clone(), read.records, read.bad_records),
            (vec![0.0], 1, 1)
        );
    }

    #[test]
    fn segments_rotate_and_retention_drops_old_ones() {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new();
        let mut log = SampleLog::open(dir.path(), 2, 80, Arc::new(clock.clone())).unwrap();
        for i in 0..6u64 {
            // 44-byte records: two per 80-byte segment.
            log.append(i, &[i as f32, 0.0], &[1.0]).unwrap();
            clock.advance(Duration::from_secs(86_400));
        }
        assert_eq!(segments(dir.path()).unwrap().len(), 3);
        // Segment 1 ended two days in, segment 2 four days in; now is day 6.
        let removed = log
            .apply_retention(Duration::from_secs(3 * 86_400), u64::MAX)
            .unwrap();
        assert_eq!(removed.len(), 1);
        let read = read_recent(dir.path(), 2, 100).unwrap();
        assert_eq!(read.first_sample, Some(2));
        assert_eq!(read.labels.len(), 4);
        // By size: at most 100 bytes (the current segment stays).
        log.apply_retention(Duration::MAX, 100).unwrap();
        assert_eq!(
            read_recent(dir.path(), 2, 100).unwrap().first_sample,
            Some(4)
        );
        // A reopened log appends to a new segment and never reuses a number.
        drop(log);
        let mut log = SampleLog::open(dir.path(), 2, 80, Arc::new(clock)).unwrap();
        log.append(6, &[6.0, 0.0], &[0.0]).unwrap();
        let read = read_recent(dir.path(), 2, 3).unwrap();
        assert_eq!((read.first_sample, read.labels.len()), (Some(4), 3));
    }
}
