//! Reading `format_args!` strings straight from their source text, so that
//! every placeholder keeps its exact line and column.

/// Which argument a placeholder formats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ArgumentRef {
    /// `{}`: the next positional argument.
    Next,
    /// `{0}`: a positional argument by index.
    Index(usize),
    /// `{name}`: a named argument, or a variable captured from the scope.
    Name(String),
}

/// One `{..}` placeholder of a format string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Placeholder {
    /// The argument it formats.
    pub(super) argument: ArgumentRef,
    /// Whether it formats with `Debug` (`{:?}`, `{:#?}`, `{:x?}`).
    pub(super) debug: bool,
    /// Whether its precision is `.*`, which takes one more positional argument
    /// before the value.
    pub(super) star_precision: bool,
    /// Whether it formats the value as the value's own `Display` or `Debug`
    /// does (`{}`, `{:?}`): no width, precision, radix, sign or alternate
    /// form (`{:#?}`), which a field recording the value itself would not
    /// keep.
    pub(super) plain: bool,
    /// Character offset of the `{` from the start of the literal token.
    pub(super) start: usize,
    /// Character offset just past the closing `}`.
    pub(super) end: usize,
}

/// A parsed format string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FormatString {
    /// The placeholders, in order.
    pub(super) placeholders: Vec<Placeholder>,
    /// The text outside placeholders, with `{{` and `}}` read as braces.
    pub(super) text: String,
}

/// One character of the literal's value and where it came from. An escape
/// is the character it stands for: the compiler reads the format string
/// from the literal's value, where `\u{7b}` is a `{` like any other.
struct ValueChar {
    value: char,
    /// Character offset in the token text (of the escape's `\\`).
    offset: usize,
}

/// Parses the source text of a string literal token (`"…"` or `r#"…"#`) as a
/// format string. Returns `None` for anything that is not a string literal or
/// is not a valid format string; the compiler rejects those, so the linter
/// says nothing about them.
pub(super) fn parse_format_literal(token: &str) -> Option<FormatString> {
    let chars = literal_value(token)?;
    let mut placeholders = Vec::new();
    let mut text = String::new();
    let mut index = 0;
    while let Some(current) = chars.get(index) {
        let next = chars.get(index + 1);
        match current.value {
            '{' => {
                if next.is_some_and(|n| n.value == '{') {
                    text.push('{');
                    index += 2;
                    continue;
                }
                let close = chars
                    .iter()
                    .skip(index + 1)
                    .position(|c| matches!(c.value, '{' | '}'))
                    .map(|relative| index + 1 + relative)?;
                let closing = chars.get(close)?;
                if closing.value != '}' {
                    return None;
                }
                let inside: String = chars
                    .get(index + 1..close)?
                    .iter()
                    .map(|c| c.value)
                    .collect();
                placeholders.push(placeholder(&inside, current.offset, closing.offset + 1)?);
                index = close + 1;
            }
            '}' => {
                if next.is_some_and(|n| n.value == '}') {
                    text.push('}');
                    index += 2;
                } else {
                    return None;
                }
            }
            value => {
                text.push(value);
                index += 1;
            }
        }
    }
    Some(FormatString { placeholders, text })
}

fn placeholder(inside: &str, start: usize, end: usize) -> Option<Placeholder> {
    let (argument, spec) = match inside.split_once(':') {
        Some((argument, spec)) => (argument.trim(), spec),
        None => (inside.trim(), ""),
    };
    let argument = if argument.is_empty() {
        ArgumentRef::Next
    } else if argument.chars().all(|c| c.is_ascii_digit()) {
        ArgumentRef::Index(argument.parse().ok()?)
    } else if is_identifier(argument) {
        ArgumentRef::Name(argument.trim_start_matches("r#").to_owned())
    } else {
        return None;
    };
    Some(Placeholder {
        argument,
        debug: spec.ends_with('?'),
        star_precision: spec.contains(".*"),
        plain: matches!(spec, "" | "?"),
        start,
        end,
    })
}

fn is_identifier(text: &str) -> bool {
    let bare = text.strip_prefix("r#").unwrap_or(text);
    let mut chars = bare.chars();
    chars
        .next()
        .is_some_and(|first| first == '_' || first.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

/// Decodes the value of a string literal token, keeping each character's
/// offset in the token text.
fn literal_value(token: &str) -> Option<Vec<ValueChar>> {
    let chars: Vec<char> = token.chars().collect();
    if chars.first() == Some(&'r') {
        let hashes = chars.iter().skip(1).take_while(|c| **c == '#').count();
        let open = 1 + hashes;
        if chars.get(open) != Some(&'"') {
            return None;
        }
        let close = chars.len().checked_sub(1 + hashes)?;
        if close <= open || chars.get(close) != Some(&'"') {
            return None;
        }
        return Some(
            (open + 1..close)
                .filter_map(|offset| chars.get(offset).map(|&value| ValueChar { value, offset }))
                .collect(),
        );
    }
    if chars.first() != Some(&'"') {
        return None;
    }
    let close = chars.iter().rposition(|c| *c == '"')?;
    if close == 0 {
        return None;
    }
    let mut value = Vec::new();
    let mut offset = 1;
    while offset < close {
        let Some(&c) = chars.get(offset) else { break };
        if c != '\\' {
            value.push(ValueChar { value: c, offset });
            offset += 1;
            continue;
        }
        let escape_start = offset;
        let kind = chars.get(offset + 1).copied();
        offset += 2;
        let decoded = match kind {
            Some('n') => Some('\n'),
            Some('t') => Some('\t'),
            Some('r') => Some('\r'),
            Some('0') => Some('\0'),
            Some('x') => {
                let digits: String = chars.get(offset..offset + 2)?.iter().collect();
                offset += 2;
                Some(char::from(u8::from_str_radix(&digits, 16).ok()?))
            }
            Some('u') => {
                // `\u{…}`: up to the closing brace of the escape, whose
                // digits may be split by underscores.
                let close_brace = chars.iter().skip(offset).position(|c| *c == '}')?;
                let digits: String = chars
                    .get(offset + 1..offset + close_brace)?
                    .iter()
                    .filter(|c| **c != '_')
                    .collect();
                offset += close_brace + 1;
                Some(char::from_u32(u32::from_str_radix(&digits, 16).ok()?)?)
            }
            Some('\n') | Some('\r') => {
                // A line continuation swallows the line break and the
                // indentation that follows it.
                while chars.get(offset).is_some_and(|c| c.is_whitespace()) {
                    offset += 1;
                }
                None
            }
            Some(other) => Some(other),
            None => None,
        };
        if let Some(decoded) = decoded {
            value.push(ValueChar {
                value: decoded,
                offset: escape_start,
            });
        }
    }
    Some(value)
}
