//! Text levels of categorical features as level codes.
//!
//! A categorical feature's value reaches the preprocessor as an `f32` level
//! code. Text levels (`"gold"`, `"DE"`) get theirs from [`level_code`], a
//! pure function of the text: the same text has the same code in every
//! process, on every platform and in every version of refit, so no
//! dictionary has to travel between the places that encode rows (the
//! HTTP API, the CSV reader, the handle, the Python package). The
//! preprocessor's level list, saved in every checkpoint, maps these codes
//! to one-hot slots; a level beyond them goes to its hash bucket, an
//! unseen one to zeros or its bucket, as for numeric codes.

/// The smallest code a text level gets, in magnitude (2^23).
const TEXT_BASE: u32 = 1 << 23;

/// The level code of `text`:
///
/// - text that reads as a finite number is that number, so `"3"` and the
///   code `3` are one level, whichever way a client sends it;
/// - any other text is a negative integer in `[-2^24, -2^23)` taken from a
///   64-bit FNV-1a hash of its UTF-8 bytes (exact in `f32`; numeric level
///   codes are small non-negative integers in practice). Two texts of one
///   feature share a code with probability about `n² / 2^24` for `n`
///   levels: they then count as one level, as levels sharing a hash
///   bucket do.
///
/// Leading and trailing whitespace is not part of a level.
///
/// ```
/// use refit_plugin_kit::preprocess::level_code;
/// assert_eq!(level_code("3"), 3.0);
/// assert_eq!(level_code(" gold "), level_code("gold"));
/// assert_ne!(level_code("gold"), level_code("silver"));
/// let c = level_code("gold");
/// assert!(c < 0.0 && c.fract() == 0.0 && c >= -16_777_216.0);
/// ```
pub fn level_code(text: &str) -> f32 {
    let text = text.trim();
    if let Ok(v) = text.parse::<f32>()
        && v.is_finite()
    {
        return v;
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.as_bytes() {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // Fold the 64 bits into 23 (xor-shift keeps every byte's influence).
    let folded = (hash ^ (hash >> 23) ^ (hash >> 46)) as u32 & (TEXT_BASE - 1);
    -((TEXT_BASE + folded) as f32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn codes_are_fixed_across_builds() {
        // A checkpoint's level list holds these codes: they must never
        // change. Reference values computed independently (Python: FNV-1a
        // 64, folded to 23 bits, offset by 2^23, negated).
        assert_eq!(level_code("gold"), -11_802_481.0);
        assert_eq!(level_code("silver"), -12_290_420.0);
        assert_eq!(level_code(""), -10_012_135.0);
        assert_eq!(level_code("1e3"), 1000.0);
        assert_eq!(level_code("-0"), 0.0);
        assert!(
            level_code("inf") < -8_388_607.0,
            "not a finite number: text"
        );
        assert!(level_code("NaN") < -8_388_607.0);
    }

    proptest! {
        #[test]
        fn every_text_has_a_finite_integral_code(text in ".*") {
            let c = level_code(&text);
            prop_assert!(c.is_finite());
            if text.trim().parse::<f32>().map_or(true, |v| !v.is_finite()) {
                prop_assert!((-16_777_216.0..=-8_388_608.0).contains(&c));
                prop_assert_eq!(c.fract(), 0.0);
            }
        }
    }
}
