//! Namespace names with parameters (`/tenant-{id}`): parsing and matching in time linear
//! in the name. Plain data, used by the namespace registry and by the delivery policies.

/// A namespace name or a pattern such as `/tenant-{id}`, where `{name}` matches one or more
/// characters other than `/`. When a segment has several parameters (`/{a}-{b}`), the
/// earlier ones take as much as they can: `/x-y-z` binds `a` = `x-y`, `b` = `z`.
///
/// Matching takes time linear in the name (times the pattern's length, which the
/// configuration fixes): a `/` can only be matched by a `/` of the pattern, so each
/// `/`-separated segment is matched on its own, and within one segment a parameter that
/// has to give way is the last one only (the classic wildcard match), so no split of the
/// name is ever tried twice and nothing is copied until the name matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespacePattern {
    /// The `/`-free segments, one per `/`-separated segment of a matching name.
    segments: Vec<Vec<Token>>,
    /// The parameter names, in order; [`Token::Param`] indexes this.
    params: Vec<String>,
}

/// One piece of a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(String),
    /// One or more characters, bound to the parameter of this index.
    Param(usize),
}

impl NamespacePattern {
    /// Parses a name; `{` … `}` marks a parameter (a `{` without its `}` is literal).
    pub fn parse(pattern: &str) -> Self {
        let mut segments = vec![Vec::new()];
        let mut params = Vec::new();
        let literal = |text: &str, segments: &mut Vec<Vec<Token>>| {
            for (i, piece) in text.split('/').enumerate() {
                if i > 0 {
                    segments.push(Vec::new());
                }
                if !piece.is_empty() {
                    let segment = segments.last_mut().expect("one segment at least");
                    segment.push(Token::Literal(piece.to_owned()));
                }
            }
        };
        let mut rest = pattern;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}').map(|c| c + open) else {
                break;
            };
            literal(&rest[..open], &mut segments);
            let segment = segments.last_mut().expect("one segment at least");
            segment.push(Token::Param(params.len()));
            params.push(rest[open + 1..close].to_owned());
            rest = &rest[close + 1..];
        }
        literal(rest, &mut segments);
        NamespacePattern { segments, params }
    }

    /// Whether the pattern has no parameter.
    pub fn is_static(&self) -> bool {
        self.params.is_empty()
    }

    /// Whether `name` matches, without binding anything.
    pub fn is_match(&self, name: &str) -> bool {
        self.spans(name).is_some()
    }

    /// The parameters a name binds, or `None` when it does not match.
    pub fn matches(&self, name: &str) -> Option<Vec<(String, String)>> {
        let spans = self.spans(name)?;
        Some(
            self.params
                .iter()
                .zip(spans)
                .map(|(key, (start, end))| (key.clone(), name[start..end].to_owned()))
                .collect(),
        )
    }

    /// Where in `name` each parameter's value lies, or `None` when it does not match.
    fn spans(&self, name: &str) -> Option<Vec<(usize, usize)>> {
        let mut spans = vec![(0, 0); self.params.len()];
        let mut names = name.split('/');
        let mut offset = 0;
        for tokens in &self.segments {
            let segment = names.next()?;
            match_segment(tokens, segment, offset, &mut spans)?;
            offset += segment.len() + 1;
        }
        names.next().is_none().then_some(spans)
    }
}

/// Matches one `/`-free segment (at `offset` in the name) and records the parameters'
/// spans. It runs from the segment's end backwards so that, of the parameters, the last
/// takes the fewest characters (the earlier ones the most); only the most recent parameter
/// ever grows on a mismatch, so the work is at most the segment's length times the
/// number of pattern bytes.
fn match_segment(
    tokens: &[Token],
    segment: &str,
    offset: usize,
    spans: &mut [(usize, usize)],
) -> Option<()> {
    let bytes = segment.as_bytes();
    // Positions count bytes from the segment's end: `end` bytes are consumed.
    let before = |end: usize| bytes.len() - end;
    // One character further back from `end` (a UTF-8 continuation byte never starts one).
    let one_char = |end: usize| -> Option<usize> {
        let mut next = end + 1;
        while next < bytes.len() && bytes[before(next)] & 0xC0 == 0x80 {
            next += 1;
        }
        (next <= bytes.len()).then_some(next)
    };
    let record = |spans: &mut [(usize, usize)], index: usize, from: usize, to: usize| {
        spans[index] = (offset + before(to), offset + before(from));
    };
    let (mut t, mut end) = (0, 0);
    // The last parameter taken: its token (counted from the end), its parameter index, and
    // where its value starts and stops (it grows by one character each time what follows
    // it fails).
    let mut last_param: Option<(usize, usize, usize, usize)> = None;
    loop {
        let advanced = match tokens.len().checked_sub(t + 1).map(|i| &tokens[i]) {
            None if end == bytes.len() => return Some(()),
            None => None,
            Some(Token::Literal(lit)) => bytes[..before(end)]
                .ends_with(lit.as_bytes())
                .then(|| end + lit.len()),
            Some(&Token::Param(index)) => one_char(end).inspect(|&next| {
                last_param = Some((t, index, end, next));
                record(spans, index, end, next);
            }),
        };
        match advanced {
            Some(next) => {
                end = next;
                t += 1;
            }
            None => {
                // Let the last parameter take one more character and go on after it.
                let (param_t, index, start, stop) = last_param?;
                let grown = one_char(stop)?;
                record(spans, index, start, grown);
                last_param = Some((param_t, index, start, grown));
                end = grown;
                t = param_t + 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_patterns_match_only_themselves() {
        let p = NamespacePattern::parse("/chat");
        assert!(p.is_static());
        assert_eq!(p.matches("/chat"), Some(vec![]));
        assert_eq!(p.matches("/chat2"), None);
        assert_eq!(p.matches("/"), None);
    }

    #[test]
    fn params_capture_one_segment() {
        let p = NamespacePattern::parse("/tenant-{id}");
        assert!(!p.is_static());
        assert_eq!(
            p.matches("/tenant-42"),
            Some(vec![("id".to_owned(), "42".to_owned())])
        );
        assert_eq!(p.matches("/tenant-"), None);
        assert_eq!(p.matches("/tenant-4/2"), None);
        assert_eq!(p.matches("/other-42"), None);
    }

    #[test]
    fn several_params_and_trailing_literals() {
        let p = NamespacePattern::parse("/{org}/room-{n}/x");
        assert_eq!(
            p.matches("/acme/room-7/x"),
            Some(vec![
                ("org".to_owned(), "acme".to_owned()),
                ("n".to_owned(), "7".to_owned())
            ])
        );
        assert_eq!(p.matches("/acme/room-7/y"), None);
        let q = NamespacePattern::parse("/{a}-{b}");
        assert_eq!(
            q.matches("/x-y-z"),
            Some(vec![
                ("a".to_owned(), "x-y".to_owned()),
                ("b".to_owned(), "z".to_owned())
            ])
        );
    }

    #[test]
    fn unicode_and_edge_cases() {
        let p = NamespacePattern::parse("/t-{id}");
        assert_eq!(
            p.matches("/t-é€x"),
            Some(vec![("id".to_owned(), "é€x".to_owned())])
        );
        let q = NamespacePattern::parse("/{a}é{b}");
        assert_eq!(
            q.matches("/ééé"),
            Some(vec![
                ("a".to_owned(), "é".to_owned()),
                ("b".to_owned(), "é".to_owned())
            ])
        );
        assert!(!q.is_match("/éé"));
        let root = NamespacePattern::parse("/");
        assert!(root.is_match("/"));
        assert!(!root.is_match("//"));
        assert!(!root.is_match(""));
        let open = NamespacePattern::parse("/a{b");
        assert!(open.is_static());
        assert!(open.is_match("/a{b"));
        assert!(!NamespacePattern::parse("/{id}").is_match("/"));
        assert!(!NamespacePattern::parse("/{id}/x").is_match("//x"));
    }

    /// The matcher before it was made linear (every split of a segment tried, longest
    /// first): the reference for what a name binds.
    fn backtracking(parts: &[(bool, &str)], name: &str, out: &mut Vec<String>) -> bool {
        match parts.split_first() {
            None => name.is_empty(),
            Some(((false, lit), rest)) => name
                .strip_prefix(lit)
                .is_some_and(|tail| backtracking(rest, tail, out)),
            Some(((true, _), rest)) => {
                let segment_end = name.find('/').unwrap_or(name.len());
                for end in (1..=segment_end).rev() {
                    if !name.is_char_boundary(end) {
                        continue;
                    }
                    out.push(name[..end].to_owned());
                    if backtracking(rest, &name[end..], out) {
                        return true;
                    }
                    out.pop();
                }
                false
            }
        }
    }

    #[test]
    fn agrees_with_the_backtracking_matcher() {
        let patterns: [(&str, &[(bool, &str)]); 6] = [
            ("/t-{id}", &[(false, "/t-"), (true, "id")]),
            (
                "/{a}-{b}",
                &[(false, "/"), (true, "a"), (false, "-"), (true, "b")],
            ),
            (
                "/{a}/{b}",
                &[(false, "/"), (true, "a"), (false, "/"), (true, "b")],
            ),
            ("/x{a}-y", &[(false, "/x"), (true, "a"), (false, "-y")]),
            (
                "/{a}--{b}-",
                &[
                    (false, "/"),
                    (true, "a"),
                    (false, "--"),
                    (true, "b"),
                    (false, "-"),
                ],
            ),
            (
                "/{a}-/-{b}",
                &[(false, "/"), (true, "a"), (false, "-/-"), (true, "b")],
            ),
        ];
        let alphabet = ['-', 'x', 'y', '/', 'é'];
        // Every name of up to 6 characters over the alphabet, after a leading `/`.
        let mut names = vec![String::from("/")];
        let mut last = names.clone();
        for _ in 0..6 {
            last = last
                .iter()
                .flat_map(|n| alphabet.iter().map(move |c| format!("{n}{c}")))
                .collect();
            names.extend(last.iter().cloned());
        }
        for (pattern, parts) in patterns {
            let p = NamespacePattern::parse(pattern);
            for name in &names {
                let mut want = Vec::new();
                let want = backtracking(parts, name, &mut want).then_some(want);
                let got = p
                    .matches(name)
                    .map(|binds| binds.into_iter().map(|(_, v)| v).collect::<Vec<_>>());
                assert_eq!(got, want, "{pattern} against {name:?}");
                assert_eq!(p.is_match(name), want.is_some());
            }
        }
    }

    #[test]
    fn pathological_names_take_linear_time() {
        // A megabyte of dashes: the backtracking matcher copied every split (about 10^12
        // bytes); this one walks the name a few times.
        let dashes = format!("/{}", "-".repeat(1 << 20));
        for pattern in ["/{a}-{b}-{c}x", "/x{a}-{b}", "/t-{id}", "/{a}--{b}-{c}/"] {
            assert!(
                !NamespacePattern::parse(pattern).is_match(&dashes),
                "{pattern}"
            );
        }
        let split = NamespacePattern::parse("/{a}-{b}-{c}")
            .matches(&dashes)
            .unwrap();
        assert_eq!(split[0].1.len(), (1 << 20) - 4);
        assert_eq!((split[1].1.as_str(), split[2].1.as_str()), ("-", "-"));
        let one = NamespacePattern::parse("/{a}-{b}")
            .matches("/x---y")
            .unwrap();
        assert_eq!(one[0].1, "x--");
        assert_eq!(one[1].1, "y");
    }
}
