//! The hashing trick for click events: every feature is a `namespace` and a
//! `token`, hashed with XXH3-64 (a published, endian-independent function:
//! the same event hashes the same way in every run and on every machine)
//! of the bytes `namespace 0x1f token`, masked to the model's `2^bits`
//! coordinates.
//!
//! | feature | namespace | token | value |
//! |---|---|---|---|
//! | each query term (lower-cased ASCII, split at non-alphanumerics) | `q` | the term | 1 |
//! | the document | `d` | its id | 1 |
//! | each query term x the document | `qd` | `term 0x1f doc` | 1 |
//! | the position shown (position bias), 1-based, capped at [`MAX_POSITION`] | `pos` | the number | 1 |
//! | a host's numeric feature | `x` | its name | its value |
//!
//! Entries that land on the same coordinate (a repeated term, a hash
//! collision) are merged by adding their values; a row's indices are sorted.
//!
//! ```
//! use refit::ctr::ClickHasher;
//! use refit::rows::SparseRows;
//! let mut h = ClickHasher::new(18).unwrap();
//! let mut rows = SparseRows::new(h.dim());
//! h.push_click(&mut rows, "Red shoes", "doc-7", Some(2), &[]);
//! let (indices, values) = rows.batch().unwrap().row(0);
//! // 2 terms, the document, 2 crosses, the position.
//! assert_eq!(indices.len(), 6);
//! assert!(values.iter().all(|&v| v == 1.0));
//! assert_eq!(h.index("q", "red"), h.index("q", "red"));
//! ```

use xxhash_rust::xxh3::xxh3_64;

use crate::rows::SparseRows;

/// Positions above this share one position feature.
pub const MAX_POSITION: u32 = 20;
/// Separates namespace and token (and the two halves of a cross).
const SEP: u8 = 0x1f;

/// Hashes click events into sparse rows of `2^bits` coordinates. It keeps
/// scratch buffers, so one hasher serves many events without allocating.
#[derive(Debug, Clone)]
pub struct ClickHasher {
    bits: u32,
    buf: Vec<u8>,
    entries: Vec<(u32, f32)>,
    scratch: Query,
}

/// A query's terms (lower-cased) and their coordinates, hashed once for
/// every document it is paired with.
#[derive(Debug, Clone, Default)]
pub struct Query {
    terms: Vec<Vec<u8>>,
    indices: Vec<u32>,
}

impl ClickHasher {
    /// A hasher into `2^bits` coordinates (`bits` 1 to 28), or `None`.
    pub fn new(bits: u32) -> Option<Self> {
        (1..=28).contains(&bits).then(|| Self {
            bits,
            buf: Vec::with_capacity(64),
            entries: Vec::with_capacity(16),
            scratch: Query::default(),
        })
    }

    /// The hasher for a model of `dim` coordinates (a power of two).
    pub fn for_dim(dim: usize) -> Option<Self> {
        if dim.is_power_of_two() {
            Self::new(dim.trailing_zeros())
        } else {
            None
        }
    }

    /// Number of coordinates.
    pub fn dim(&self) -> usize {
        1 << self.bits
    }

    fn mask(&self, h: u64) -> u32 {
        (h & ((1u64 << self.bits) - 1)) as u32
    }

    /// The coordinate of `namespace 0x1f parts...`.
    fn hash(&mut self, namespace: &str, parts: &[&[u8]]) -> u32 {
        key(&mut self.buf, namespace, parts);
        self.mask(xxh3_64(&self.buf))
    }

    /// The coordinate of feature `token` in `namespace`.
    pub fn index(&mut self, namespace: &str, token: &str) -> u32 {
        self.hash(namespace, &[token.as_bytes()])
    }

    /// Splits and hashes a query's terms.
    pub fn query(&mut self, query: &str) -> Query {
        let mut q = Query::default();
        self.query_into(query, &mut q);
        q
    }

    /// [`ClickHasher::query`] into `q`, reusing its buffers.
    fn query_into(&mut self, query: &str, q: &mut Query) {
        let mut n = 0;
        q.indices.clear();
        for t in query
            .split(|c: char| !c.is_alphanumeric())
            .filter(|t| !t.is_empty())
        {
            if q.terms.len() == n {
                q.terms.push(Vec::new());
            }
            let term = &mut q.terms[n];
            term.clear();
            term.extend(t.bytes().map(|b| b.to_ascii_lowercase()));
            let i = self.hash("q", &[term]);
            q.indices.push(i);
            n += 1;
        }
        q.terms.truncate(n);
    }

    /// Appends the row of one click event to `rows` (see the module docs);
    /// `position` is 1-based, `None` when the document was not shown at a
    /// position (ranking asks for the position-free score).
    pub fn push_click(
        &mut self,
        rows: &mut SparseRows,
        query: &str,
        doc_id: &str,
        position: Option<u32>,
        extra: &[(&str, f32)],
    ) {
        let mut q = std::mem::take(&mut self.scratch);
        self.query_into(query, &mut q);
        self.push_doc(rows, &q, doc_id, position, extra);
        self.scratch = q;
    }

    /// [`ClickHasher::push_click`] for a query hashed already.
    pub fn push_doc(
        &mut self,
        rows: &mut SparseRows,
        query: &Query,
        doc_id: &str,
        position: Option<u32>,
        extra: &[(&str, f32)],
    ) {
        let mut entries = std::mem::take(&mut self.entries);
        entries.clear();
        entries.extend(query.indices.iter().map(|&i| (i, 1.0)));
        for term in &query.terms {
            let i = self.hash("qd", &[term, &[SEP], doc_id.as_bytes()]);
            entries.push((i, 1.0));
        }
        entries.push((self.hash("d", &[doc_id.as_bytes()]), 1.0));
        if let Some(p) = position {
            let p = p.clamp(1, MAX_POSITION) as usize;
            entries.push((self.hash("pos", &[POSITIONS[p - 1].as_bytes()]), 1.0));
        }
        for (name, v) in extra {
            entries.push((self.hash("x", &[name.as_bytes()]), *v));
        }
        entries.sort_unstable_by_key(|e| e.0);
        let mut last = None;
        for &(i, v) in &entries {
            if last == Some(i) {
                if let Some(value) = rows.values.last_mut() {
                    *value += v;
                }
            } else {
                rows.indices.push(i);
                rows.values.push(v);
                last = Some(i);
            }
        }
        rows.offsets.push(rows.indices.len());
        self.entries = entries;
    }
}

/// The position tokens, 1 to [`MAX_POSITION`].
const POSITIONS: [&str; MAX_POSITION as usize] = [
    "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16", "17",
    "18", "19", "20",
];

/// `namespace 0x1f parts...` into `buf`.
fn key(buf: &mut Vec<u8>, namespace: &str, parts: &[&[u8]]) {
    buf.clear();
    buf.extend_from_slice(namespace.as_bytes());
    buf.push(SEP);
    for p in parts {
        buf.extend_from_slice(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn xxh3_matches_the_published_function() {
        // XXH3-64 of the empty input (xxHash's reference value), and a key
        // as Python's `xxhash` 3.5.0 computes it
        // (`xxhash.xxh3_64_intdigest(b"q\x1fshoes")`).
        assert_eq!(xxh3_64(b""), 0x2d06_8005_38d3_94c2);
        assert_eq!(xxh3_64(b"q\x1fshoes"), 0x2899_7c7f_e2b8_7e52);
        let mut h = ClickHasher::new(18).unwrap();
        assert_eq!(
            h.index("q", "shoes"),
            (0x2899_7c7f_e2b8_7e52u64 & 0x3ffff) as u32
        );
    }

    #[test]
    fn a_click_row_is_the_same_in_every_run_and_on_every_machine() {
        // The six keys of this event hashed by Python's `xxhash` 3.5.0
        // (xxh3_64_intdigest(key) & (2^18 - 1), sorted): an independent
        // implementation, so a change of hash, key layout or mask fails.
        let mut h = ClickHasher::new(18).unwrap();
        let mut rows = SparseRows::new(h.dim());
        h.push_click(&mut rows, "Red shoes", "doc-7", Some(2), &[]);
        let (idx, val) = rows.batch().unwrap().row(0);
        assert_eq!(idx, [32338, 88720, 90533, 116736, 178503, 256179]);
        assert_eq!(val, [1.0; 6]);
    }

    #[test]
    fn terms_are_case_folded_and_repeats_merge() {
        let mut h = ClickHasher::new(20).unwrap();
        let mut rows = SparseRows::new(h.dim());
        h.push_click(
            &mut rows,
            "Shoes shoes, SHOES!",
            "d1",
            None,
            &[("price", 2.5)],
        );
        let (idx, val) = rows.batch().unwrap().row(0);
        let q = h.index("q", "shoes");
        let at = idx.iter().position(|&i| i == q).unwrap();
        assert_eq!(val[at], 3.0);
        let x = h.index("x", "price");
        assert_eq!(val[idx.iter().position(|&i| i == x).unwrap()], 2.5);
        assert!(idx.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn positions_past_the_cap_share_a_feature() {
        let mut h = ClickHasher::new(18).unwrap();
        let mut rows = SparseRows::new(h.dim());
        h.push_click(&mut rows, "a", "d", Some(25), &[]);
        h.push_click(&mut rows, "a", "d", Some(MAX_POSITION), &[]);
        h.push_click(&mut rows, "a", "d", Some(3), &[]);
        let b = rows.batch().unwrap();
        assert_eq!(b.row(0), b.row(1));
        assert_ne!(b.row(0), b.row(2));
    }

    proptest! {
        #[test]
        fn rows_are_valid_and_stable(
            query in "[a-zA-Z0-9 ,.-]{0,40}",
            doc in "[a-z0-9-]{1,12}",
            position in proptest::option::of(0u32..50),
            bits in 1u32..=28,
        ) {
            let mut h = ClickHasher::new(bits).unwrap();
            let mut a = SparseRows::new(h.dim());
            h.push_click(&mut a, &query, &doc, position, &[]);
            let mut b = SparseRows::new(h.dim());
            h.push_click(&mut b, &query, &doc, position, &[]);
            prop_assert_eq!(&a, &b);
            let batch = a.batch();
            prop_assert!(batch.is_ok());
            let batch = batch.unwrap();
            let (idx, _) = batch.row(0);
            prop_assert!(idx.windows(2).all(|w| w[0] < w[1]));
        }
    }
}
