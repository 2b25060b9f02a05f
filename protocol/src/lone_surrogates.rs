//! JSON text from JavaScript may escape a lone UTF-16 surrogate (`JSON.stringify("\ud83d")`
//! writes `"\ud83d"`, for a string cut inside an emoji), which `serde_json` refuses: a Rust
//! string cannot hold one. Such escapes become `\ufffd` (the replacement character, what a
//! JavaScript string gets when it is encoded as UTF-8), so the packet is read instead of
//! closing the session; well-formed pairs are left alone.

use std::borrow::Cow;

/// `json` with every escaped lone surrogate replaced by `\ufffd`; borrowed when it has
/// none (the common case costs one scan for `\u`).
pub(crate) fn replace_lone_surrogates(json: &str) -> Cow<'_, str> {
    let bytes = json.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            i += 1;
            continue;
        }
        // An escape: `\uXXXX` is six bytes, any other two.
        let Some(unit) = escaped_unit(bytes, i) else {
            i += 2;
            continue;
        };
        let lone = match unit {
            0xD800..=0xDBFF => !matches!(escaped_unit(bytes, i + 6), Some(0xDC00..=0xDFFF)),
            0xDC00..=0xDFFF => true,
            _ => false,
        };
        if lone {
            let text = out.get_or_insert_with(|| String::with_capacity(json.len()));
            text.push_str(&json[copied..i]);
            text.push_str("\\ufffd");
            copied = i + 6;
        } else if (0xD800..=0xDBFF).contains(&unit) {
            // A pair: both halves are kept.
            i += 6;
        }
        i += 6;
    }
    match out {
        None => Cow::Borrowed(json),
        Some(mut text) => {
            text.push_str(&json[copied..]);
            Cow::Owned(text)
        }
    }
}

/// The code unit of a `\uXXXX` escape starting at `at`, if one is there.
fn escaped_unit(bytes: &[u8], at: usize) -> Option<u16> {
    let escape = bytes.get(at..at + 6)?;
    if escape[..2] != *b"\\u" {
        return None;
    }
    let hex = std::str::from_utf8(&escape[2..]).ok()?;
    u16::from_str_radix(hex, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lone_surrogates_become_replacement_characters_and_pairs_stay() {
        let same = [
            r#"["a\u00e9\ud83d\ude00"]"#,
            r#"["\\ud800"]"#,
            r#"["plain"]"#,
        ];
        for json in same {
            assert!(
                matches!(replace_lone_surrogates(json), Cow::Borrowed(_)),
                "{json}"
            );
        }
        assert_eq!(
            replace_lone_surrogates(r#"["x\ud83d", "\ude00y", "\uD800\uD800\uDC00"]"#),
            r#"["x\ufffd", "\ufffdy", "\ufffd\uD800\uDC00"]"#
        );
        assert_eq!(replace_lone_surrogates(r#"["\ud800"#), r#"["\ufffd"#);
    }
}
