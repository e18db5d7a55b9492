//! Parsing the arguments of `tracing` and `log` macros, and of
//! `#[instrument(..)]`, into one shape the checks can read.
//!
//! The parsers follow the macros' own `macro_rules!` grammars: `tracing`'s
//! `name:`/`target:`/`parent:` prefixes, `%`/`?` sigils, dotted,
//! string-literal and `{ CONST }` keys and the `{ fields }, "message"` form;
//! `log`'s `logger:`/`target:` prefixes and `key:capture = value;`
//! key-values. A call that does not fit the grammar is not a call the macro
//! accepts either, so the caller skips it without a diagnostic.

use proc_macro2::{Delimiter, LineColumn, Spacing, Span, TokenStream, TokenTree};
use syn::ext::IdentExt;
use syn::parse::discouraged::Speculative;
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned;
use syn::{braced, parenthesized, token, Expr, Ident, LitStr, Token};

/// Which crate's grammar a macro follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flavor {
    /// The `tracing` crate.
    Tracing,
    /// The `log` crate.
    Log,
}

/// Whether a macro records an event or opens a span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CallKind {
    /// An event (`info!`, `event!`, `log!`…): one log record.
    Event,
    /// A span (`info_span!`, `span!`); its fields are attached to the
    /// records emitted inside it.
    Span,
}

/// The level of a call, when it is written in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Severity {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl Severity {
    fn from_word(word: &str) -> Option<Severity> {
        match word.to_ascii_lowercase().as_str() {
            "trace" => Some(Severity::Trace),
            "debug" => Some(Severity::Debug),
            "info" => Some(Severity::Info),
            "warn" => Some(Severity::Warn),
            "error" => Some(Severity::Error),
            _ => None,
        }
    }
}

/// A source range, from the first character to just past the last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Range {
    pub(super) start: LineColumn,
    pub(super) end: LineColumn,
}

impl Range {
    pub(super) fn of(span: Span) -> Range {
        Range {
            start: span.start(),
            end: span.end(),
        }
    }

    pub(super) fn between(first: Span, last: Span) -> Range {
        Range {
            start: first.start(),
            end: last.end(),
        }
    }

    pub(super) fn to(self, other: Range) -> Range {
        Range {
            start: self.start,
            end: other.end,
        }
    }
}

/// How a value is captured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Capture {
    /// As a structured value (no sigil; `log`'s default).
    Plain,
    /// With `Debug`: `?x`, `x = ?y`, `field::debug(y)`, `log`'s `:?`.
    Debug,
    /// With `Display`: `%x`, `x = %y`, `field::display(y)`, `log`'s `:%`.
    Display,
    /// As an error: `log`'s `:err`.
    Error,
    /// With `log`'s `:sval` or `:serde`.
    Serialize,
}

/// The key of a field.
#[derive(Debug, Clone)]
pub(super) enum Key {
    /// A key written out: dotted identifiers (`r#` removed) or a string literal.
    Literal { text: String, range: Range },
    /// A key computed by an expression: `{ CONST }` in `tracing`, an
    /// expression in `log`.
    Computed { range: Range },
}

/// Where the value of a field comes from.
#[derive(Debug, Clone)]
pub(super) enum ValueSource {
    /// `x`, `?x.y`: the value is the variable or field the key names.
    Shorthand(Vec<Ident>),
    /// `key = expr`.
    Expr(Box<Expr>),
    /// `#[instrument(fields(key))]`: a field declared now and recorded later.
    Declared,
}

/// One field of a call.
#[derive(Debug, Clone)]
pub(super) struct Field {
    pub(super) key: Key,
    pub(super) capture: Capture,
    pub(super) value: ValueSource,
    /// The whole field, from the sigil or key to the end of the value.
    pub(super) range: Range,
    /// The value with its sigil, or the whole field for a shorthand.
    pub(super) value_range: Range,
}

/// The message of an event: a format string and its arguments.
#[derive(Debug, Clone)]
pub(super) struct Message {
    /// The format string, when the message starts with a string literal.
    pub(super) format: Option<LitStr>,
    /// Positional arguments, in order.
    pub(super) positional: Vec<Expr>,
    /// Named arguments (`name = value`).
    pub(super) named: Vec<(String, Expr)>,
}

/// A parsed `tracing` or `log` macro call.
#[derive(Debug, Clone)]
pub(super) struct Call {
    pub(super) flavor: Flavor,
    pub(super) kind: CallKind,
    pub(super) severity: Option<Severity>,
    /// Whether the call has a `name:` prefix.
    pub(super) has_name: bool,
    pub(super) fields: Vec<Field>,
    pub(super) message: Option<Message>,
}

/// The parts of `#[instrument(..)]` the checks read.
#[derive(Debug, Clone, Default)]
pub(super) struct InstrumentArgs {
    pub(super) fields: Vec<Field>,
    pub(super) skipped: Vec<String>,
    pub(super) skip_all: bool,
}

/// The macro names of `tracing`, with what they record and whether a level
/// argument follows the prefixes.
pub(super) fn tracing_macro(name: &str) -> Option<(CallKind, Option<Severity>, &'static str)> {
    Some(match name {
        "trace" => (CallKind::Event, Some(Severity::Trace), "trace"),
        "debug" => (CallKind::Event, Some(Severity::Debug), "debug"),
        "info" => (CallKind::Event, Some(Severity::Info), "info"),
        "warn" => (CallKind::Event, Some(Severity::Warn), "warn"),
        "error" => (CallKind::Event, Some(Severity::Error), "error"),
        "event" => (CallKind::Event, None, "event"),
        "trace_span" => (CallKind::Span, Some(Severity::Trace), "trace_span"),
        "debug_span" => (CallKind::Span, Some(Severity::Debug), "debug_span"),
        "info_span" => (CallKind::Span, Some(Severity::Info), "info_span"),
        "warn_span" => (CallKind::Span, Some(Severity::Warn), "warn_span"),
        "error_span" => (CallKind::Span, Some(Severity::Error), "error_span"),
        "span" => (CallKind::Span, None, "span"),
        _ => return None,
    })
}

/// The macro names of `log`.
pub(super) fn log_macro(name: &str) -> Option<(Option<Severity>, &'static str)> {
    Some(match name {
        "trace" => (Some(Severity::Trace), "trace"),
        "debug" => (Some(Severity::Debug), "debug"),
        "info" => (Some(Severity::Info), "info"),
        "warn" => (Some(Severity::Warn), "warn"),
        "error" => (Some(Severity::Error), "error"),
        "log" => (None, "log"),
        _ => return None,
    })
}

/// Parses the arguments of the macro `name` of `flavor`.
pub(super) fn parse_call(flavor: Flavor, name: &str, tokens: TokenStream) -> Option<Call> {
    match flavor {
        Flavor::Tracing => {
            let (kind, severity, _) = tracing_macro(name)?;
            let parser = |input: ParseStream| match kind {
                CallKind::Event => tracing_event(input, severity),
                CallKind::Span => tracing_span(input, severity),
            };
            parser.parse2(tokens).ok()
        }
        Flavor::Log => {
            let (severity, _) = log_macro(name)?;
            (|input: ParseStream| log_call(input, severity))
                .parse2(tokens)
                .ok()
        }
    }
}

/// Parses the arguments of `#[instrument(..)]`.
pub(super) fn parse_instrument(tokens: TokenStream) -> Option<InstrumentArgs> {
    instrument_args.parse2(tokens).ok()
}

fn tracing_event(input: ParseStream, severity: Option<Severity>) -> syn::Result<Call> {
    let prefixes = prefixes(input, &["name", "target", "parent"])?;
    let severity = match severity {
        Some(severity) => Some(severity),
        None => level_argument(input)?,
    };
    let (fields, message) = fields_and_message(input, FieldMode::Record, true)?;
    Ok(Call {
        flavor: Flavor::Tracing,
        kind: CallKind::Event,
        severity,
        has_name: prefixes.iter().any(|prefix| prefix == "name"),
        fields,
        message,
    })
}

fn tracing_span(input: ParseStream, severity: Option<Severity>) -> syn::Result<Call> {
    prefixes(input, &["target", "parent", "name"])?;
    let severity = match severity {
        Some(severity) => Some(severity),
        None => level_argument(input)?,
    };
    let _span_name: Expr = input.parse()?;
    let mut fields = Vec::new();
    if !input.is_empty() {
        input.parse::<Token![,]>()?;
        // `span!` forwards trailing tokens to its field set, which also
        // accepts a format string there; spans have no message, so it is
        // parsed and dropped.
        (fields, _) = fields_and_message(input, FieldMode::Record, true)?;
    }
    Ok(Call {
        flavor: Flavor::Tracing,
        kind: CallKind::Span,
        severity,
        has_name: true,
        fields,
        message: None,
    })
}

fn log_call(input: ParseStream, severity: Option<Severity>) -> syn::Result<Call> {
    prefixes(input, &["logger", "target"])?;
    let severity = match severity {
        Some(severity) => Some(severity),
        None => level_argument(input)?,
    };
    let mut fields = Vec::new();
    if has_top_level_semicolon(input) {
        loop {
            fields.push(log_key_value(input)?);
            if input.peek(Token![;]) {
                break;
            }
            input.parse::<Token![,]>()?;
            if input.peek(Token![;]) {
                break;
            }
        }
        input.parse::<Token![;]>()?;
    }
    let message = if input.is_empty() {
        None
    } else {
        Some(message(input)?)
    };
    Ok(Call {
        flavor: Flavor::Log,
        kind: CallKind::Event,
        severity,
        has_name: false,
        fields,
        message,
    })
}

/// Parses `name: expr,`-style prefixes, in any order, and returns their names.
fn prefixes(input: ParseStream, names: &[&str]) -> syn::Result<Vec<String>> {
    let mut seen = Vec::new();
    while let Some(name) = prefix_name(input, names) {
        Ident::parse_any(input)?;
        input.parse::<Token![:]>()?;
        let _value: Expr = input.parse()?;
        if !input.is_empty() {
            input.parse::<Token![,]>()?;
        }
        seen.push(name);
    }
    Ok(seen)
}

/// The name of the prefix at the cursor: one of `names`, followed by a single
/// `:` (not the `::` of a path).
fn prefix_name(input: ParseStream, names: &[&str]) -> Option<String> {
    let cursor = input.cursor();
    let (ident, rest) = cursor.ident()?;
    let (colon, after) = rest.punct()?;
    let name = ident.to_string();
    // A colon joined to the next character starts no prefix when that
    // character is another colon (a path's `::`) or a `log` capture's
    // `%` or `?` (`target:% = t` is a key named `target`), which no value
    // starts with: `parent:&span` is a prefix.
    let not_a_prefix = colon.spacing() == Spacing::Joint
        && after
            .punct()
            .is_some_and(|(next, _)| matches!(next.as_char(), ':' | '%' | '?'));
    (colon.as_char() == ':' && !not_a_prefix && names.contains(&name.as_str())).then_some(name)
}

/// Parses the level argument of `event!`, `span!` and `log!`.
fn level_argument(input: ParseStream) -> syn::Result<Option<Severity>> {
    let level: Expr = input.parse()?;
    if !input.is_empty() {
        input.parse::<Token![,]>()?;
    }
    Ok(match &level {
        Expr::Path(path) => path
            .path
            .segments
            .last()
            .and_then(|segment| Severity::from_word(&segment.ident.to_string())),
        _ => None,
    })
}

fn has_top_level_semicolon(input: ParseStream) -> bool {
    let mut cursor = input.cursor();
    while let Some((tree, rest)) = cursor.token_tree() {
        if matches!(&tree, TokenTree::Punct(punct) if punct.as_char() == ';') {
            return true;
        }
        cursor = rest;
    }
    false
}

/// How a shorthand field (a key with no value) is read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FieldMode {
    /// In macros a shorthand records the variable the key names.
    Record,
    /// In `#[instrument(fields(..))]` a shorthand declares an empty field.
    Declare,
}

fn fields_and_message(
    input: ParseStream,
    mode: FieldMode,
    allow_message: bool,
) -> syn::Result<(Vec<Field>, Option<Message>)> {
    let mut fields = Vec::new();
    if input.peek(token::Brace) && !brace_is_key(input) {
        let content;
        braced!(content in input);
        fields = field_list(&content, mode)?;
        if input.is_empty() {
            return Ok((fields, None));
        }
        input.parse::<Token![,]>()?;
        let message = if input.is_empty() || !allow_message {
            None
        } else {
            Some(message(input)?)
        };
        return Ok((fields, message));
    }
    loop {
        if input.is_empty() {
            return Ok((fields, None));
        }
        match field(input, mode)? {
            Some(field) => fields.push(field),
            None if allow_message => return Ok((fields, Some(message(input)?))),
            None => return Err(input.error("expected a field")),
        }
        if input.is_empty() {
            return Ok((fields, None));
        }
        input.parse::<Token![,]>()?;
    }
}

fn field_list(input: ParseStream, mode: FieldMode) -> syn::Result<Vec<Field>> {
    fields_and_message(input, mode, false).map(|(fields, _)| fields)
}

/// Whether the brace group at the cursor is a `{ CONST }` key (followed by
/// `=`) rather than a `{ fields }` group.
fn brace_is_key(input: ParseStream) -> bool {
    let Some((_, _, rest)) = input.cursor().group(Delimiter::Brace) else {
        return false;
    };
    match rest.punct() {
        Some((punct, after)) if punct.as_char() == '=' => {
            !(punct.spacing() == Spacing::Joint
                && after
                    .punct()
                    .is_some_and(|(next, _)| matches!(next.as_char(), '=' | '>')))
        }
        _ => false,
    }
}

fn peek_assign(input: ParseStream) -> bool {
    input.peek(Token![=]) && !input.peek(Token![==]) && !input.peek(Token![=>])
}

fn sigil(input: ParseStream) -> syn::Result<Option<(Capture, Span)>> {
    if input.peek(Token![?]) {
        let token: Token![?] = input.parse()?;
        Ok(Some((Capture::Debug, token.span)))
    } else if input.peek(Token![%]) {
        let token: Token![%] = input.parse()?;
        Ok(Some((Capture::Display, token.span)))
    } else {
        Ok(None)
    }
}

/// Parses one `tracing` field, or returns `None` (consuming nothing) when the
/// message starts at the cursor.
fn field(input: ParseStream, mode: FieldMode) -> syn::Result<Option<Field>> {
    if let Some((capture, sigil_span)) = sigil(input)? {
        let path = dotted_path(input)?;
        let key_range = path_range(&path);
        let key = Key::Literal {
            text: path_text(&path),
            range: key_range,
        };
        // `tracing-attributes` also takes the sigil before a key given a
        // value (`fields(?peer = self.peer)`), which the event macros
        // refuse; a sigil after the `=` wins.
        if mode == FieldMode::Declare && peek_assign(input) {
            let mut field = assigned_value(input, key, key_range)?;
            if field.capture == Capture::Plain {
                field.capture = capture;
            }
            field.range = Range::of(sigil_span).to(field.range);
            return Ok(Some(field));
        }
        return Ok(Some(Field {
            key,
            capture,
            value: ValueSource::Shorthand(path),
            range: Range::of(sigil_span).to(key_range),
            value_range: Range::of(sigil_span).to(key_range),
        }));
    }
    if input.peek(LitStr) {
        let fork = input.fork();
        let literal: LitStr = fork.parse()?;
        if !peek_assign(&fork) {
            return Ok(None);
        }
        input.advance_to(&fork);
        let key_range = Range::of(literal.span());
        return assigned_value(
            input,
            Key::Literal {
                text: literal.value(),
                range: key_range,
            },
            key_range,
        )
        .map(Some);
    }
    if input.peek(token::Brace) {
        if !brace_is_key(input) {
            return Ok(None);
        }
        let group: proc_macro2::Group = input.parse()?;
        let key_range = Range::of(group.span());
        return assigned_value(input, Key::Computed { range: key_range }, key_range).map(Some);
    }
    if input.peek(Ident::peek_any) {
        let fork = input.fork();
        let path = dotted_path(&fork)?;
        let key_range = path_range(&path);
        let key = Key::Literal {
            text: path_text(&path),
            range: key_range,
        };
        if peek_assign(&fork) {
            input.advance_to(&fork);
            return assigned_value(input, key, key_range).map(Some);
        }
        if fork.is_empty() || fork.peek(Token![,]) {
            input.advance_to(&fork);
            let value = match mode {
                FieldMode::Record => ValueSource::Shorthand(path),
                FieldMode::Declare => ValueSource::Declared,
            };
            return Ok(Some(Field {
                key,
                capture: Capture::Plain,
                value,
                range: key_range,
                value_range: key_range,
            }));
        }
    }
    Ok(None)
}

/// Parses `= value` (with an optional sigil) after a key.
fn assigned_value(input: ParseStream, key: Key, key_range: Range) -> syn::Result<Field> {
    input.parse::<Token![=]>()?;
    let sigil = sigil(input)?;
    let expr: Expr = input.parse()?;
    let expr_range = Range::of(expr.span());
    let (capture, value_range) = match sigil {
        Some((capture, span)) => (capture, Range::of(span).to(expr_range)),
        None => (Capture::Plain, expr_range),
    };
    Ok(Field {
        key,
        capture,
        value: ValueSource::Expr(Box::new(expr)),
        range: key_range.to(expr_range),
        value_range,
    })
}

/// Parses `a.b.c` (identifiers may be keywords such as `self` or `type`).
fn dotted_path(input: ParseStream) -> syn::Result<Vec<Ident>> {
    let mut path = vec![Ident::parse_any(input)?];
    while input.peek(Token![.]) && !input.peek(Token![..]) {
        input.parse::<Token![.]>()?;
        path.push(Ident::parse_any(input)?);
    }
    Ok(path)
}

fn path_text(path: &[Ident]) -> String {
    path.iter()
        .map(|ident| {
            let text = ident.to_string();
            text.strip_prefix("r#").map(str::to_owned).unwrap_or(text)
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn path_range(path: &[Ident]) -> Range {
    match (path.first(), path.last()) {
        (Some(first), Some(last)) => Range::between(first.span(), last.span()),
        _ => Range::of(Span::call_site()),
    }
}

/// Parses one `log` key-value: `key`, `key = value`, `key:? = value`,
/// `"key" = value`, `(expr) = value`.
fn log_key_value(input: ParseStream) -> syn::Result<Field> {
    let (key, shorthand) = if input.peek(LitStr) {
        let literal: LitStr = input.parse()?;
        (
            Key::Literal {
                text: literal.value(),
                range: Range::of(literal.span()),
            },
            None,
        )
    } else if input.peek(Ident::peek_any) {
        let ident = Ident::parse_any(input)?;
        (
            Key::Literal {
                text: path_text(std::slice::from_ref(&ident)),
                range: Range::of(ident.span()),
            },
            Some(ident),
        )
    } else {
        let tree: TokenTree = input.parse()?;
        (
            Key::Computed {
                range: Range::of(tree.span()),
            },
            None,
        )
    };
    let key_range = match &key {
        Key::Literal { range, .. } | Key::Computed { range } => *range,
    };
    let mut capture = Capture::Plain;
    let mut capture_range = None;
    if input.peek(Token![:]) && !input.peek(Token![::]) {
        let colon: Token![:] = input.parse()?;
        let tree: TokenTree = input.parse()?;
        capture = match tree.to_string().as_str() {
            "?" | "debug" => Capture::Debug,
            "%" | "display" => Capture::Display,
            "err" => Capture::Error,
            "sval" | "serde" => Capture::Serialize,
            _ => Capture::Plain,
        };
        capture_range = Some(Range::between(colon.span, tree.span()));
    }
    if peek_assign(input) {
        input.parse::<Token![=]>()?;
        let expr: Expr = input.parse()?;
        let expr_range = Range::of(expr.span());
        return Ok(Field {
            key,
            capture,
            value: ValueSource::Expr(Box::new(expr)),
            range: key_range.to(expr_range),
            value_range: capture_range.unwrap_or(expr_range).to(expr_range),
        });
    }
    let end = capture_range.unwrap_or(key_range);
    Ok(Field {
        key,
        capture,
        value: match shorthand {
            Some(ident) => ValueSource::Shorthand(vec![ident]),
            None => ValueSource::Declared,
        },
        range: key_range.to(end),
        value_range: key_range.to(end),
    })
}

/// Parses a message: a format string (or another expression) and its
/// arguments.
fn message(input: ParseStream) -> syn::Result<Message> {
    let format = if input.peek(LitStr) {
        Some(input.parse::<LitStr>()?)
    } else {
        let _message: Expr = input.parse()?;
        None
    };
    let mut positional = Vec::new();
    let mut named = Vec::new();
    while !input.is_empty() {
        input.parse::<Token![,]>()?;
        if input.is_empty() {
            break;
        }
        if input.peek(Ident::peek_any) && input.peek2(Token![=]) && !input.peek2(Token![==]) {
            let name = Ident::parse_any(input)?;
            input.parse::<Token![=]>()?;
            named.push((path_text(std::slice::from_ref(&name)), input.parse()?));
        } else {
            positional.push(input.parse()?);
        }
    }
    Ok(Message {
        format,
        positional,
        named,
    })
}

/// Parses `#[instrument(..)]` as `tracing-attributes` does: a bare string
/// literal is the span's name, wherever it stands, and a token it does not
/// expect earns a warning there and is skipped, so it is skipped here too
/// rather than losing the whole attribute.
fn instrument_args(input: ParseStream) -> syn::Result<InstrumentArgs> {
    let mut args = InstrumentArgs::default();
    while !input.is_empty() {
        if input.peek(Token![,]) {
            input.parse::<Token![,]>()?;
        } else if input.peek(LitStr) {
            input.parse::<LitStr>()?;
        } else if input.peek(Ident::peek_any) {
            instrument_arg(input, &mut args)?;
        } else {
            input.parse::<TokenTree>()?;
        }
    }
    Ok(args)
}

/// Parses one argument of `#[instrument(..)]` that starts with a name. A
/// name whose arguments the checks do not need (`err(Debug)`, `ret`) or
/// that `tracing-attributes` does not know is skipped alone, and what
/// follows it is read token by token, as the macro does.
fn instrument_arg(input: ParseStream, args: &mut InstrumentArgs) -> syn::Result<()> {
    let name = Ident::parse_any(input)?.to_string();
    match name.as_str() {
        "fields" | "skip" if input.peek(token::Paren) => {
            let content;
            parenthesized!(content in input);
            if name == "fields" {
                args.fields = field_list(&content, FieldMode::Declare)?;
            } else {
                let skipped = content.parse_terminated(Ident::parse_any, Token![,])?;
                args.skipped = skipped.iter().map(|ident| ident.to_string()).collect();
            }
        }
        "name" | "target" | "parent" | "follows_from" | "level" if peek_assign(input) => {
            input.parse::<Token![=]>()?;
            let _value: Expr = input.parse()?;
        }
        "skip_all" => args.skip_all = true,
        _ => {}
    }
    Ok(())
}

/// Parses the arguments of `format!` (or any `format_args!`-style macro).
pub(super) fn parse_format_arguments(tokens: TokenStream) -> Option<Message> {
    message.parse2(tokens).ok()
}
