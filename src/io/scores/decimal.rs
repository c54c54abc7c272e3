//! Scores as exact decimals: a score's text to fixed-point units (six decimals kept, the
//! seventh rounding half away from zero), fast for plain decimals, checked against the range.

use super::*;

/// Parses a decimal score into fixed-point units (10⁻⁶), exactly for up to six decimals and
/// rounded half away from zero beyond. Returns `None` for anything that is not a finite number.
///
/// ```
/// assert_eq!(papermatch::io::parse_score("0.123456"), Some(123_456));
/// assert_eq!(papermatch::io::parse_score("-1.5e-1"), Some(-150_000));
/// assert_eq!(papermatch::io::parse_score("nan"), None);
/// ```
pub fn parse_score(s: &str) -> Option<i64> {
    parse_score_bytes(s.as_bytes())
}

pub(super) fn parse_score_bytes(b: &[u8]) -> Option<i64> {
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    let mut int: i64 = 0;
    let mut i = 0;
    while i < digits.len() && digits[i].is_ascii_digit() {
        if i >= 12 {
            return slow_parse(b);
        }
        int = int * 10 + (digits[i] - b'0') as i64;
        i += 1;
    }
    let int_digits = i;
    let mut frac: i64 = 0;
    let mut frac_digits = 0;
    let mut round_up = false;
    if i < digits.len() && digits[i] == b'.' {
        i += 1;
        while i < digits.len() && digits[i].is_ascii_digit() {
            if frac_digits < 6 {
                frac = frac * 10 + (digits[i] - b'0') as i64;
            } else if frac_digits == 6 {
                round_up = digits[i] >= b'5';
            }
            frac_digits += 1;
            i += 1;
        }
    }
    if i != digits.len() || (int_digits == 0 && frac_digits == 0) {
        return slow_parse(b);
    }
    for _ in frac_digits.min(6)..6 {
        frac *= 10;
    }
    let units = int * SCORE_SCALE + frac + round_up as i64;
    Some(if neg { -units } else { units })
}

pub(super) fn slow_parse(b: &[u8]) -> Option<i64> {
    let x: f64 = std::str::from_utf8(b).ok()?.parse().ok()?;
    if !x.is_finite() || x.abs() > 1e12 {
        return None;
    }
    Some(crate::model::score_to_units(x))
}

/// Checks a parsed score against the allowed range; the message says how to fix it.
pub(super) fn check_score(bytes: &[u8], allow_any: bool) -> Result<i32, (String, &'static str)> {
    let text = || String::from_utf8_lossy(bytes);
    let Some(units) = parse_score_bytes(bytes) else {
        let text = text();
        return Err((
            format!("`{text}` is not a finite number"),
            "scores must be decimal numbers such as 0.75",
        ));
    };
    if allow_any {
        if units.abs() > MAX_ABS_SCORE * SCORE_SCALE {
            let text = text();
            return Err((
                format!("score {text} is outside [-{MAX_ABS_SCORE}, {MAX_ABS_SCORE}]"),
                "rescale the scores; papermatch keeps them exact in 32-bit fixed point",
            ));
        }
    } else if !(0..=SCORE_SCALE).contains(&units) {
        let text = text();
        return Err((
            format!("score {text} is outside [0, 1]"),
            "rescale the scores to [0, 1], or pass --allow-any-score",
        ));
    }
    Ok(units as i32)
}

/// `digits[.digits]` then `\n`, `\r\n` or the end: the value in units (as [`parse_score`]
/// gives it) and the length with the line end. `None` for anything else, left to the general
/// path.
#[inline(always)]
pub(super) fn plain_decimal(s: &[u8]) -> Option<(i64, usize)> {
    // The usual form, `d.dddddd`, as one 8-byte word: the point made a zero digit, every byte
    // checked to be a digit, then the digits combined pairwise (SWAR).
    if let Some(b) = s.get(..9)
        && b[1] == b'.'
    {
        const ZEROS: u64 = 0x3030_3030_3030_3030;
        const HIGH: u64 = 0xF0F0_F0F0_F0F0_F0F0;
        let w = u64::from_le_bytes(b[..8].try_into().expect("8 bytes")) & !0xFF00 | 0x3000;
        if w & HIGH == ZEROS && (w + 0x0606_0606_0606_0606) & HIGH == ZEROS {
            let x = w - ZEROS;
            let x = (x * 10 + (x >> 8)) & 0x00FF_00FF_00FF_00FF;
            let x = (x * 100 + (x >> 16)) & 0x0000_FFFF_0000_FFFF;
            let x = (x * 10_000 + (x >> 32)) & 0xFFFF_FFFF;
            // `x` reads d0 0 d1…d6 as eight digits: take nine d0s out of the millions.
            let units = x as i64 - (b[0] - b'0') as i64 * 9_000_000;
            match b[8] {
                b'\n' => return Some((units, 9)),
                b'\r' if s.get(9) == Some(&b'\n') => return Some((units, 10)),
                _ => {}
            }
        }
    }
    let mut k = 0;
    let mut int: i64 = 0;
    while k < s.len() && s[k].is_ascii_digit() {
        if k == 9 {
            return None;
        }
        int = int * 10 + (s[k] - b'0') as i64;
        k += 1;
    }
    if k == 0 {
        return None;
    }
    let mut frac: i64 = 0;
    let mut scale: i64 = SCORE_SCALE;
    let mut round = 0;
    if k < s.len() && s[k] == b'.' {
        k += 1;
        let digits = k;
        while k < s.len() && s[k].is_ascii_digit() {
            if scale > 1 {
                frac = frac * 10 + (s[k] - b'0') as i64;
                scale /= 10;
            } else if k - digits == 6 {
                round = (s[k] >= b'5') as i64;
            }
            k += 1;
        }
        if k == digits {
            return None;
        }
    }
    let units = int * SCORE_SCALE + frac * scale + round;
    match s.get(k) {
        None => Some((units, k)),
        Some(b'\n') => Some((units, k + 1)),
        Some(b'\r') if s.get(k + 1) == Some(&b'\n') => Some((units, k + 2)),
        _ => None,
    }
}
