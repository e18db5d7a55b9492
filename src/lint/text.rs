//! Lines of a source text addressed by character columns, as `proc-macro2`
//! reports them, without rescanning a line for every lookup: a minified file
//! can hold thousands of calls on one line.

/// The lines of a text, with the byte offset of every character of the
/// lines that are not ASCII (on ASCII lines a column is a byte offset).
pub(super) struct Lines<'a> {
    lines: Vec<&'a str>,
    char_starts: Vec<Option<Vec<usize>>>,
}

/// At most this many characters of a line are kept for rendering a finding.
const EXCERPT_CHARS: usize = 240;

/// How many characters before a finding an excerpt of a long line keeps.
const EXCERPT_LEAD: usize = 80;

impl<'a> Lines<'a> {
    pub(super) fn new(text: &'a str) -> Lines<'a> {
        let lines: Vec<&str> = text.lines().collect();
        let char_starts = lines
            .iter()
            .map(|line| {
                (!line.is_ascii()).then(|| line.char_indices().map(|(offset, _)| offset).collect())
            })
            .collect();
        Lines { lines, char_starts }
    }

    /// Line `number`, counted from 1.
    fn line(&self, number: usize) -> Option<(&'a str, Option<&Vec<usize>>)> {
        let index = number.checked_sub(1)?;
        let line = *self.lines.get(index)?;
        let starts = self.char_starts.get(index).and_then(Option::as_ref);
        Some((line, starts))
    }

    /// The byte offset of 0-based character `column` (or the line's end).
    fn byte(line: &str, starts: Option<&Vec<usize>>, column: usize) -> usize {
        match starts {
            None => column.min(line.len()),
            Some(starts) => starts.get(column).copied().unwrap_or(line.len()),
        }
    }

    /// The text of line `number` from 0-based character `start` to `end`.
    pub(super) fn slice(&self, number: usize, start: usize, end: usize) -> Option<&'a str> {
        let (line, starts) = self.line(number)?;
        let from = Self::byte(line, starts, start);
        let to = Self::byte(line, starts, end.max(start));
        line.get(from..to)
    }

    /// The part of line `number` to show for a finding at 1-based `column`,
    /// and the 1-based column it starts at: the whole line when it is short,
    /// otherwise a window around the finding.
    pub(super) fn excerpt(&self, number: usize, column: usize) -> (String, usize) {
        let Some((line, starts)) = self.line(number) else {
            return (String::new(), 1);
        };
        let length = starts.map_or(line.len(), Vec::len);
        if length <= EXCERPT_CHARS {
            return (line.to_owned(), 1);
        }
        let first = column.saturating_sub(1).saturating_sub(EXCERPT_LEAD);
        let text = self
            .slice(number, first, first + EXCERPT_CHARS)
            .unwrap_or_default();
        (text.to_owned(), first + 1)
    }
}
