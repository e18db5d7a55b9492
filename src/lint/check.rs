//! The checks of one file: a `syn` visitor that finds `tracing` and `log`
//! calls (also inside other macros' token streams) and `#[instrument]`
//! attributes, and the rules applied to each of them.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use proc_macro2::{Delimiter, LineColumn, Spacing, TokenStream, TokenTree};
use syn::spanned::Spanned;
use syn::visit::{self, Visit};
use syn::{
    Attribute, Block, Expr, ExprAsync, ExprClosure, FnArg, GenericArgument, Generics, Ident,
    ImplItemFn, Item, ItemFn, ItemImpl, ItemMacro, ItemTrait, Local, Macro, Member, Meta, Pat,
    PathArguments, Signature, Stmt, TraitItemFn, Type, TypeParamBound, UnOp,
};

use super::format::{parse_format_literal, ArgumentRef, FormatString, Placeholder};
use super::grammar::{
    parse_call, parse_format_arguments, parse_instrument, Call, CallKind, Capture, Field, Flavor,
    InstrumentArgs, Key, Message, Range, Severity, ValueSource,
};
use super::imports::{FlavorSet, Imports, Resolved};
use super::keys::{check_key, is_secret_name, log_message_key, words as identifier_words, KeySite};
use super::rule::Rule;
use super::text::Lines;

/// The deepest recursion [`recursion_estimate`] lets the parser attempt.
///
/// `syn` parses by recursive descent: a chain of closures, generics, pointer
/// types or `return`s recurses once per link, and an unoptimised build spends
/// tens of kilobytes of stack on each level. A stack overflow aborts the
/// process, so inputs that could recurse deeper than this are reported
/// instead of parsed. Real code stays far below it: the 2.7 million lines of
/// this crate's dependency sources stay under 400.
const MAX_RECURSION: usize = 4096;

/// What one level of bracket nesting adds to the estimate, for the frames
/// the parser spends entering a group.
const GROUP_RECURSION: usize = 4;

/// A finding inside one file, before levels and suppressions apply.
#[derive(Debug, Clone)]
pub(super) struct Finding {
    pub(super) rule: Rule,
    pub(super) range: Range,
    /// The first line of the call the finding is in; a suppression comment
    /// above the call covers findings on its later lines.
    pub(super) anchor_line: usize,
    pub(super) message: String,
    pub(super) help: String,
}

/// A literal key written in a call, for the checks across a crate.
#[derive(Debug, Clone)]
pub(super) struct KeyUse {
    pub(super) key: String,
    pub(super) range: Range,
    pub(super) anchor_line: usize,
}

/// What checking one file produced.
#[derive(Debug, Default)]
pub(super) struct FileOutcome {
    pub(super) findings: Vec<Finding>,
    pub(super) key_uses: Vec<KeyUse>,
    /// Where string literals that hold a suppression comment's marker
    /// are: text there is no comment, whatever it reads like.
    pub(super) marker_literals: Vec<Range>,
}

/// The ranges of the string literals of `source` (doc comments aside) that
/// hold `marker`. Empty when the source does not split into tokens.
fn literals_holding(source: &str, marker: &str) -> Vec<Range> {
    if !source.contains(marker) {
        return Vec::new();
    }
    let Ok(tokens) = TokenStream::from_str(source) else {
        return Vec::new();
    };
    let lines = Lines::new(source);
    let mut ranges = Vec::new();
    // A loop over a stack of groups, not recursion: nesting can be deep.
    let mut stack = vec![tokens.into_iter()];
    while let Some(top) = stack.last_mut() {
        let Some(tree) = top.next() else {
            stack.pop();
            continue;
        };
        match tree {
            TokenTree::Group(group) => stack.push(group.stream().into_iter()),
            TokenTree::Literal(literal) => {
                let range = Range::of(literal.span());
                // A doc comment is a `doc` attribute's literal spanning the
                // comment: its text starts with `/`, a literal's never does.
                let first =
                    lines.slice(range.start.line, range.start.column, range.start.column + 1);
                let is_doc_comment = first == Some("/");
                if !is_doc_comment && literal.to_string().contains(marker) {
                    ranges.push(range);
                }
            }
            TokenTree::Ident(_) | TokenTree::Punct(_) => {}
        }
    }
    ranges
}

/// Blanks what `syn` cannot parse but `rustc` accepts at the start of a file:
/// a byte-order mark and a `#!` shebang line. Blanking keeps every other
/// line and column where it was.
pub(super) fn prepare_source(source: &str) -> String {
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    if let Some(rest) = source.strip_prefix("#!") {
        if !rest.trim_start().starts_with('[') {
            let line_end = source.find('\n').unwrap_or(source.len());
            let blank: String = source
                .get(..line_end)
                .unwrap_or_default()
                .chars()
                .map(|_| ' ')
                .collect();
            return blank + source.get(line_end..).unwrap_or_default();
        }
    }
    source.to_owned()
}

/// How deep the parser may already be when the linter parses the body of a
/// macro call, by the position of the body's opening bracket.
type MacroDepths = HashMap<LineColumn, usize>;

/// How [`recursion_estimate`] counts the bodies of macro calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MacroBodies {
    /// As `syn` parses a file: it keeps each body as tokens without
    /// recursing into it, so only the brackets inside a body count. A large
    /// `html! { .. }` body is wide, not deep.
    Kept,
    /// As the linter parses the body of a `tracing` or `log` call, and a
    /// `format!` inside it: every token counts.
    Parsed,
}

/// Parses a prepared source text, or says where and why it does not parse.
/// Also returns how deep the parser may be at the start of each macro body,
/// for the check of the bodies the linter parses itself.
fn parse_file(source: &str) -> Result<(syn::File, MacroDepths), (LineColumn, String)> {
    let tokens = TokenStream::from_str(source).map_err(|error| {
        (
            error.span().start(),
            "it does not split into tokens (an unbalanced bracket, or an unterminated string, character or comment)".to_owned(),
        )
    })?;
    let macro_depths = recursion_estimate(&tokens, 0, MacroBodies::Kept)
        .map_err(|position| (position, too_deep()))?;
    let end_of_file = tokens
        .clone()
        .into_iter()
        .last()
        .map_or(LineColumn { line: 1, column: 0 }, |last| last.span().end());
    let file = syn::parse2::<syn::File>(tokens).map_err(|error| {
        // An error at the end of the input carries no position of its own
        // (the call site, which reads as 1:1): it is placed after the last
        // token, where the missing part belongs.
        let position = if error.span().start() == (LineColumn { line: 1, column: 0 })
            && error.to_string().starts_with("unexpected end of input")
        {
            end_of_file
        } else {
            error.span().start()
        };
        (position, error.to_string())
    })?;
    Ok((file, macro_depths))
}

fn too_deep() -> String {
    format!("it nests too deeply to parse safely (more than {MAX_RECURSION} levels)")
}

/// Keywords, after which `!` is the negation of an expression (`if !(..)`)
/// rather than the `!` of a macro call.
const KEYWORDS: [&str; 51] = [
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
    "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "type",
    "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final", "gen", "macro",
    "override", "priv", "try", "typeof", "virtual", "yield",
];

/// What a token just before a bracket says about the bracket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recent {
    /// An identifier that is not a keyword: a macro's name.
    Name,
    /// `macro_rules`, whose name comes between the `!` and the body.
    MacroRules,
    Bang,
    Other,
}

impl Recent {
    fn of(tree: &TokenTree) -> Recent {
        match tree {
            TokenTree::Ident(ident) if ident == "macro_rules" => Recent::MacroRules,
            TokenTree::Ident(ident) if !KEYWORDS.iter().any(|keyword| ident == keyword) => {
                Recent::Name
            }
            TokenTree::Punct(punct) if punct.as_char() == '!' => Recent::Bang,
            _ => Recent::Other,
        }
    }
}

/// The token before another on its bracket level, as far as telling a
/// closure's `|` and a generic's `<` from operators needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Previous {
    /// None: the level starts here.
    Start,
    /// A keyword a closure may follow: `move`, `return`, `async`, `yield`.
    ClosureKeyword,
    /// Any other identifier, keyword or name.
    Ident,
    /// A punctuation character, and whether it is joined to the next.
    Punct(char, bool),
    /// A literal or a bracketed group.
    Operand,
}

impl Previous {
    fn of(tree: &TokenTree) -> Previous {
        match tree {
            TokenTree::Ident(ident)
                if ["move", "return", "async", "yield"]
                    .iter()
                    .any(|keyword| ident == keyword) =>
            {
                Previous::ClosureKeyword
            }
            TokenTree::Ident(_) => Previous::Ident,
            TokenTree::Punct(punct) => {
                Previous::Punct(punct.as_char(), punct.spacing() == Spacing::Joint)
            }
            TokenTree::Group(_) | TokenTree::Literal(_) => Previous::Operand,
        }
    }

    /// Whether a `|` after this starts a closure's parameters rather than
    /// being an operator (`a | b`, `a || b`) or an or-pattern's bar.
    fn may_start_a_closure(self) -> bool {
        matches!(
            self,
            Previous::Start
                | Previous::ClosureKeyword
                | Previous::Punct(',' | '=' | ';' | ':' | '>' | '&', _)
        )
    }

    /// Whether a `<` after this may open a generic's arguments: after a
    /// name (`Vec<`, `impl<`) or `::` (`collect::<`).
    fn may_take_generics(self) -> bool {
        matches!(self, Previous::Ident | Previous::Punct(':', _))
    }
}

/// What a `<` that [`recursion_estimate`] has not yet seen closed opened.
#[derive(Clone, Copy)]
enum Angle {
    /// A generic's arguments (or a comparison, taken for one).
    Generic,
    /// A qualified path: `<A as T>`.
    Qualified,
    /// A `<<` after a name: a shift, or a generic's `<` and a qualified
    /// path's; whether an `as` came since, as in a qualified path.
    Shift { as_since: bool },
}

/// Where the parser could first recurse deeper than [`MAX_RECURSION`], or,
/// when it cannot, the estimate at the start of every macro body.
///
/// The estimate bounds recursion from above: every level of recursion
/// consumes at least one token, and every construct that chains ends at a
/// `;`, a `,` or a closing `}` (unless an `else` continues it), so the depth
/// at a token is at most the tokens since the last such end on each
/// enclosing bracket level, plus the brackets themselves. Nothing ends a
/// chain between a closure's `|`s (`|a, b| |a, b| ..` chains closures) nor
/// inside a generic's `<..>` (`X<u8, X<u8, ..>>`, `X<{0}, X<{0}, ..>>`),
/// told from operators by the token before (a closure starts after `(`,
/// `,`, `=`, `move` and the like; generics follow a name or `::`, and a
/// qualified path's `<A as T>`, whose `>` closes no generic's, follows
/// no operand; a `<<` after a name is a shift until an `as` and a `>`
/// show it was a generic's `<` and a qualified path's), and a
/// block followed by an operator continues its chain (`|| {} + || {} ..`).
/// A `=>` ends the chain of a match arm's pattern. An attribute (and
/// so a doc comment) neither ends nor continues the chain it stands in, so
/// its tokens count only while inside it: `syn` parses the value of
/// `#[name = value]` as an expression, and the linter parses the fields of
/// `#[instrument(..)]`. The bodies of macro calls count as `bodies` says;
/// `base` is the estimate where `tokens` start. The walk keeps its own stack
/// so that it cannot overflow either.
fn recursion_estimate(
    tokens: &TokenStream,
    base: usize,
    bodies: MacroBodies,
) -> Result<MacroDepths, LineColumn> {
    struct Level {
        trees: std::iter::Peekable<proc_macro2::token_stream::IntoIter>,
        run: usize,
        is_brace: bool,
        after_brace: bool,
        /// Inside a macro body that the parser keeps as tokens.
        kept: bool,
        /// The last three tokens of this level, the latest last.
        recent: [Recent; 3],
        /// Whether a closure's parameters are open: a `|` where a closure
        /// can start came, and not yet the `|` that closes them.
        in_parameters: bool,
        /// Whether the last token closed a closure's parameters (a closure
        /// whose body is a closure starts right after).
        closed_parameters: bool,
        /// The `<` not yet closed by a `>` since the chain's last end,
        /// the latest last.
        angles: Vec<Angle>,
        /// How many of `angles` are a generic's.
        open_angles: usize,
        previous: Previous,
        /// Where the last tokens leave a method call or field access.
        trailer: Trailer,
    }
    /// The parts of a method call or field access after an operand
    /// (`.name(..)`), which the parser reads in a loop, not by recursion:
    /// each adds one node to the tree, whose visit and drop recurse once,
    /// so its `.` counts and its name and arguments' brackets do not. A
    /// builder's chain of thousands of calls is then no deeper than the
    /// calls.
    #[derive(Clone, Copy, PartialEq)]
    enum Trailer {
        None,
        /// A `.` came: a name may follow.
        Dot,
        /// `.name` came: its arguments may follow.
        Name,
    }
    let level = |stream: TokenStream, is_brace: bool, kept: bool| Level {
        trees: stream.into_iter().peekable(),
        run: 0,
        is_brace,
        after_brace: false,
        kept,
        recent: [Recent::Other; 3],
        in_parameters: false,
        closed_parameters: false,
        angles: Vec::new(),
        open_angles: 0,
        previous: Previous::Start,
        trailer: Trailer::None,
    };
    let mut stack = vec![level(tokens.clone(), false, false)];
    let mut runs = base;
    let mut macro_depths = MacroDepths::new();
    loop {
        let depth = stack.len();
        let Some(current) = stack.last_mut() else {
            return Ok(macro_depths);
        };
        let Some(tree) = current.trees.next() else {
            runs -= current.run;
            let closed_brace = current.is_brace;
            stack.pop();
            if let Some(parent) = stack.last_mut() {
                parent.after_brace = closed_brace;
            }
            continue;
        };
        let recent = current.recent;
        current.recent = [recent[1], recent[2], Recent::of(&tree)];
        let previous = std::mem::replace(&mut current.previous, Previous::of(&tree));
        let closed_parameters = std::mem::take(&mut current.closed_parameters);
        // Inside a closure's parameters or a generic's arguments nothing
        // ends the chain; an `else`, a binary operator, a method call or a
        // `?` after a block continues it (`|| {} + || {} + ..`).
        let open = current.in_parameters || current.open_angles > 0;
        let continues_chain = match &tree {
            TokenTree::Ident(ident) => ident == "else" || ident == "as",
            TokenTree::Punct(punct) => "+-*/%^&|<>=.?".contains(punct.as_char()),
            _ => false,
        };
        if std::mem::take(&mut current.after_brace) && !continues_chain && !open {
            runs -= current.run;
            current.run = 0;
        }
        if matches!(&tree, TokenTree::Ident(ident) if ident == "as") {
            if let Some(Angle::Shift { as_since }) = current.angles.last_mut() {
                *as_since = true;
            }
        }
        let mut ends_chain = false;
        if let TokenTree::Punct(punct) = &tree {
            let joined_to_next = punct.spacing() == Spacing::Joint;
            match punct.as_char() {
                '|' if current.in_parameters => {
                    current.in_parameters = false;
                    current.closed_parameters = true;
                }
                '|' if closed_parameters || previous.may_start_a_closure() => {
                    current.in_parameters = true;
                }
                // A `<` after a name or `::` opens a generic's arguments
                // (or compares, which only makes the estimate higher);
                // `<=` and `<<=` are operators; `<<` is a shift, or a
                // generic's `<` before a qualified path's
                // (`Vec<<A as T>::Item>`), told apart at the `>` that
                // would close the qualified path.
                '<' if previous.may_take_generics() => {
                    let next_is = |token: Option<&TokenTree>, wanted: char| matches!(token, Some(TokenTree::Punct(next)) if next.as_char() == wanted);
                    if joined_to_next && next_is(current.trees.peek(), '<') {
                        let second = current.trees.next();
                        let assigns = matches!(&second, Some(TokenTree::Punct(second)) if second.spacing() == Spacing::Joint)
                            && next_is(current.trees.peek(), '=');
                        if !assigns {
                            current.angles.push(Angle::Shift { as_since: false });
                        }
                    } else if !(joined_to_next && next_is(current.trees.peek(), '=')) {
                        current.angles.push(Angle::Generic);
                        current.open_angles += 1;
                    }
                }
                // A `<` where no operand came before opens a qualified
                // path (`<A as T>::Item`), whose `>` closes no generic's.
                '<' if previous != Previous::Operand => current.angles.push(Angle::Qualified),
                // A `=>` ends a match arm's pattern; the `>` of `->` closes
                // no `<`.
                '>' if previous == Previous::Punct('=', true) => ends_chain = true,
                '>' if previous != Previous::Punct('-', true) => match current.angles.pop() {
                    Some(Angle::Generic) => current.open_angles -= 1,
                    // The qualified path after a generic's `<` closed: the
                    // generic's arguments stay open. Without an `as`, the
                    // `<<` was a shift, and this `>` compares.
                    Some(Angle::Shift { as_since: true }) => {
                        current.angles.push(Angle::Generic);
                        current.open_angles += 1;
                    }
                    Some(Angle::Shift { as_since: false } | Angle::Qualified) | None => {}
                },
                ';' => ends_chain = true,
                ',' => ends_chain = !current.in_parameters && current.open_angles == 0,
                _ => {}
            }
        }
        if ends_chain {
            runs -= current.run;
            current.run = 0;
            current.in_parameters = false;
            current.angles.clear();
            current.open_angles = 0;
            current.trailer = Trailer::None;
            if matches!(&tree, TokenTree::Punct(punct) if matches!(punct.as_char(), ';' | ',')) {
                continue;
            }
        }
        match &tree {
            TokenTree::Punct(punct) if punct.as_char() == '#' => {
                // `#[..]` and `#![..]` count only from inside.
                current.trees.next_if(
                    |tree| matches!(tree, TokenTree::Punct(bang) if bang.as_char() == '!'),
                );
                let attribute = current.trees.next_if(|tree| {
                    matches!(tree, TokenTree::Group(group) if group.delimiter() == Delimiter::Bracket)
                });
                if let Some(TokenTree::Group(attribute)) = attribute {
                    let kept = current.kept;
                    stack.push(level(attribute.stream(), false, kept));
                    continue;
                }
            }
            _ => {}
        }
        let in_trailer = match &tree {
            TokenTree::Ident(_) => current.trailer == Trailer::Dot,
            TokenTree::Group(group) => {
                current.trailer == Trailer::Name && group.delimiter() == Delimiter::Parenthesis
            }
            _ => false,
        };
        current.trailer = match &tree {
            TokenTree::Ident(_) if in_trailer => Trailer::Name,
            // A `.` alone, not one of a `..` range.
            TokenTree::Punct(punct)
                if punct.as_char() == '.'
                    && punct.spacing() == Spacing::Alone
                    && previous != Previous::Punct('.', true) =>
            {
                Trailer::Dot
            }
            _ => Trailer::None,
        };
        // In a kept body only the brackets count, which `depth` does.
        if !current.kept && !in_trailer {
            current.run += 1;
            runs += 1;
        }
        if runs + GROUP_RECURSION * depth > MAX_RECURSION {
            return Err(tree.span().start());
        }
        if let TokenTree::Group(group) = tree {
            let is_macro_body = matches!(
                recent,
                [_, Recent::Name | Recent::MacroRules, Recent::Bang]
                    | [Recent::MacroRules, Recent::Bang, Recent::Name]
            );
            let kept = current.kept || (is_macro_body && bodies == MacroBodies::Kept);
            if is_macro_body && bodies == MacroBodies::Kept {
                macro_depths.insert(group.span_open().start(), runs + GROUP_RECURSION * depth);
            }
            let is_brace = group.delimiter() == Delimiter::Brace;
            stack.push(level(group.stream(), is_brace, kept));
        }
    }
}

/// Checks a prepared source text. Must run on the thread that will read the
/// positions of its spans, as `proc-macro2` keeps source maps per thread.
pub(super) fn check_file(
    source: &str,
    inherited_macro_use: FlavorSet,
    suppression_marker: &str,
) -> FileOutcome {
    let marker_literals = literals_holding(source, suppression_marker);
    let (file, macro_depths) = match parse_file(source) {
        Ok(parsed) => parsed,
        Err((position, reason)) => {
            let position = LineColumn {
                line: position.line.max(1),
                column: position.column,
            };
            return FileOutcome {
                findings: vec![Finding {
                    rule: Rule::UnparsableFile,
                    range: Range {
                        start: position,
                        end: position,
                    },
                    anchor_line: position.line,
                    message: format!(
                        "this file could not be parsed, so it was not linted: {reason}"
                    ),
                    help: "fix the syntax error, or exclude the file from linting".to_owned(),
                }],
                marker_literals,
                ..FileOutcome::default()
            };
        }
    };
    let imports = Imports::collect(&file, inherited_macro_use);
    let mut checker = Checker {
        lines: Lines::new(source),
        imports: &imports,
        macro_depths,
        telemetry_impl: None,
        telemetry_suppressed: false,
        enclosing_type_params: Vec::new(),
        findings: Vec::new(),
        key_uses: Vec::new(),
    };
    checker.visit_file(&file);
    FileOutcome {
        findings: checker.findings,
        key_uses: checker.key_uses,
        marker_literals,
    }
}

/// The crates a file brings in with `#[macro_use] extern crate`, or nothing
/// when it does not parse.
pub(super) fn declared_macro_use(source: &str) -> FlavorSet {
    parse_file(source)
        .map(|(file, _)| Imports::declared_macro_use(&file))
        .unwrap_or_default()
}

/// OpenTelemetry SDK traits whose implementations run inside the telemetry
/// pipeline.
const TELEMETRY_TRAITS: [&str; 4] = [
    "LogExporter",
    "LogProcessor",
    "SpanExporter",
    "PushMetricExporter",
];

/// Whether a `let` keeps a guard of
/// `opentelemetry::Context::enter_telemetry_suppressed_scope()`, the fix
/// OLB011 suggests. `let _ = ..` is no guard: it drops the value at once.
fn holds_suppression_guard(local: &Local) -> bool {
    struct CallScan {
        found: bool,
    }
    impl<'ast> Visit<'ast> for CallScan {
        fn visit_ident(&mut self, ident: &'ast Ident) {
            self.found |= ident == "enter_telemetry_suppressed_scope";
        }
    }
    let pattern = match &local.pat {
        Pat::Type(typed) => typed.pat.as_ref(),
        other => other,
    };
    let Some(init) = &local.init else {
        return false;
    };
    let mut scan = CallScan { found: false };
    scan.visit_expr(&init.expr);
    scan.found && !matches!(pattern, Pat::Wild(_))
}

struct Checker<'a> {
    lines: Lines<'a>,
    imports: &'a Imports,
    macro_depths: MacroDepths,
    /// The telemetry trait whose implementation is being visited.
    telemetry_impl: Option<String>,
    /// Whether a guard of `enter_telemetry_suppressed_scope` is alive: the
    /// pipeline drops what is logged while it is.
    telemetry_suppressed: bool,
    /// The type parameters of the impl or trait being visited (and, in a
    /// trait, `Self`), which the `#[instrument]` arguments of its methods
    /// can name without declaring them.
    enclosing_type_params: Vec<Ident>,
    findings: Vec<Finding>,
    key_uses: Vec<KeyUse>,
}

impl<'ast> Visit<'ast> for Checker<'_> {
    fn visit_item_macro(&mut self, item: &'ast ItemMacro) {
        // A `macro_rules!` body is a template with `$metavariables`, not code.
        if !item.mac.path.is_ident("macro_rules") {
            visit::visit_item_macro(self, item);
        }
    }

    fn visit_macro(&mut self, mac: &'ast Macro) {
        let segments: Vec<Ident> = mac
            .path
            .segments
            .iter()
            .map(|segment| segment.ident.clone())
            .collect();
        self.invocation(&segments, &mac.tokens, mac.delimiter.span().open().start());
    }

    fn visit_item(&mut self, item: &'ast Item) {
        // An item declared inside a block runs on its own, outside the
        // block's guards, and cannot name the type parameters around it.
        let outer = std::mem::take(&mut self.telemetry_suppressed);
        let outer_params = std::mem::take(&mut self.enclosing_type_params);
        visit::visit_item(self, item);
        self.telemetry_suppressed = outer;
        self.enclosing_type_params = outer_params;
    }

    fn visit_expr_closure(&mut self, closure: &'ast ExprClosure) {
        // A closure may run later, on another thread (`thread::spawn`),
        // after the guard around it is gone.
        let outer = std::mem::take(&mut self.telemetry_suppressed);
        visit::visit_expr_closure(self, closure);
        self.telemetry_suppressed = outer;
    }

    fn visit_expr_async(&mut self, block: &'ast ExprAsync) {
        // An `async` block runs when it is polled, often on another task
        // (`tokio::spawn`), after the guard around it is gone.
        let outer = std::mem::take(&mut self.telemetry_suppressed);
        visit::visit_expr_async(self, block);
        self.telemetry_suppressed = outer;
    }

    fn visit_block(&mut self, block: &'ast Block) {
        // A suppression guard lives from its `let` to the end of its block.
        let outer = self.telemetry_suppressed;
        for statement in &block.stmts {
            self.visit_stmt(statement);
            if let Stmt::Local(local) = statement {
                self.telemetry_suppressed |= holds_suppression_guard(local);
            }
        }
        self.telemetry_suppressed = outer;
    }

    fn visit_item_impl(&mut self, item: &'ast ItemImpl) {
        let telemetry = item.trait_.as_ref().and_then(|(_, path, _)| {
            let name = path.segments.last()?.ident.to_string();
            TELEMETRY_TRAITS.contains(&name.as_str()).then_some(name)
        });
        let outer = std::mem::replace(&mut self.telemetry_impl, telemetry);
        let outer_params =
            std::mem::replace(&mut self.enclosing_type_params, type_params(&item.generics));
        visit::visit_item_impl(self, item);
        self.telemetry_impl = outer;
        self.enclosing_type_params = outer_params;
    }

    fn visit_item_trait(&mut self, item: &'ast ItemTrait) {
        // In a trait, `Self` is a type parameter too: `Self::Password` is
        // whatever an implementation chooses.
        let mut params = type_params(&item.generics);
        params.push(Ident::new("Self", item.trait_token.span));
        let outer_params = std::mem::replace(&mut self.enclosing_type_params, params);
        visit::visit_item_trait(self, item);
        self.enclosing_type_params = outer_params;
    }

    fn visit_item_fn(&mut self, item: &'ast ItemFn) {
        self.check_instrument_attributes(&item.attrs, &item.sig);
        visit::visit_item_fn(self, item);
    }

    fn visit_impl_item_fn(&mut self, item: &'ast ImplItemFn) {
        self.check_instrument_attributes(&item.attrs, &item.sig);
        visit::visit_impl_item_fn(self, item);
    }

    fn visit_trait_item_fn(&mut self, item: &'ast TraitItemFn) {
        self.check_instrument_attributes(&item.attrs, &item.sig);
        visit::visit_trait_item_fn(self, item);
    }
}

/// How a value ends up in the record.
enum Value<'e> {
    /// An expression.
    Expr(&'e Expr),
    /// A variable named by a shorthand field or an inline format capture.
    Named(String),
}

impl<'e> Value<'e> {
    fn leaf(&self) -> Option<String> {
        match self {
            Value::Expr(expr) => leaf_name(expr),
            Value::Named(name) => Some(name.clone()),
        }
    }

    fn expr(&self) -> Option<&'e Expr> {
        match self {
            Value::Expr(expr) => Some(expr),
            Value::Named(_) => None,
        }
    }

    /// Whether the value is the same on every call: see [`is_constant`]. A
    /// name, such as the inline capture in `"after {MAX_RETRIES} retries"`,
    /// is a constant when it is `SCREAMING_CASE`, as the same name passed
    /// as an argument is.
    fn is_constant(&self) -> bool {
        match self {
            Value::Expr(expr) => is_constant(expr),
            Value::Named(name) => is_screaming_case(name),
        }
    }
}

/// A value that was turned into a string before it was logged.
enum Preformatted<'e> {
    /// `value.to_string()`.
    ToString(&'e Expr),
    /// `format!(..)`, with its parsed arguments when they parse.
    Format(Option<Message>),
    /// `format_args!(..)`: formatted only when the value is recorded, so
    /// no cost is paid first (no OLB002), but what it formats is still
    /// looked at for secrets and errors.
    FormatArgs(Option<Message>),
}

impl Checker<'_> {
    fn push(
        &mut self,
        rule: Rule,
        range: Range,
        anchor_line: usize,
        message: String,
        help: String,
    ) {
        self.findings.push(Finding {
            rule,
            range,
            anchor_line,
            message,
            help,
        });
    }

    /// The source text of a range, when it lies on one line.
    fn snippet(&self, range: Range) -> Option<String> {
        if range.start.line != range.end.line {
            return None;
        }
        let text = self
            .lines
            .slice(range.start.line, range.start.column, range.end.column)?;
        (!text.is_empty()).then(|| text.to_owned())
    }

    /// The source text a suggested fix writes for the value named `name`:
    /// the expression itself (`state.last_error`, `r.unwrap_err()`), or
    /// the receiver of its `.to_string()`, without the references around
    /// it; `name` for a value formatted with `format!`, whose arguments
    /// are only known by name.
    fn value_text(
        &self,
        value: &Value<'_>,
        preformatted: Option<&Preformatted<'_>>,
        name: &str,
    ) -> String {
        match (preformatted, value) {
            (Some(Preformatted::ToString(receiver)), _) => {
                self.snippet_of(without_reference(receiver))
            }
            (None, Value::Expr(expr)) => self.snippet_of(without_reference(expr)),
            _ => name.to_owned(),
        }
    }

    /// The source text of an expression, as one line. An expression that
    /// spans lines has its lines trimmed and joined, so that a suggested
    /// field holds the expression itself, and two such values are told
    /// apart.
    fn snippet_of(&self, expr: &Expr) -> String {
        let range = Range::of(expr.span());
        self.snippet(range)
            .or_else(|| self.joined_snippet(range))
            .unwrap_or_else(|| "value".to_owned())
    }

    /// The source text of a range over several lines, each line trimmed,
    /// joined by a space, or by nothing after an opening bracket and
    /// before a closing one or a `.`, `,` or `?`, which is where such
    /// expressions are usually broken.
    fn joined_snippet(&self, range: Range) -> Option<String> {
        let mut joined = String::new();
        for line in range.start.line..=range.end.line {
            let start = if line == range.start.line {
                range.start.column
            } else {
                0
            };
            let end = if line == range.end.line {
                range.end.column
            } else {
                usize::MAX
            };
            let part = self.lines.slice(line, start, end)?.trim();
            if part.is_empty() {
                continue;
            }
            let glued = joined.ends_with(['(', '[']) || part.starts_with([')', ']', '.', ',', '?']);
            if !joined.is_empty() && !glued {
                joined.push(' ');
            }
            joined.push_str(part);
        }
        (!joined.is_empty()).then_some(joined)
    }

    /// Handles a macro invocation: lints it when it is a `tracing` or `log`
    /// call, and otherwise looks for such calls inside its tokens.
    /// `open` is where the body's opening bracket is.
    fn invocation(&mut self, segments: &[Ident], tokens: &TokenStream, open: LineColumn) {
        let names: Vec<String> = segments.iter().map(Ident::to_string).collect();
        let range = match (segments.first(), segments.last()) {
            (Some(first), Some(last)) => Range::between(first.span(), last.span()),
            _ => return,
        };
        match self.imports.resolve(&names) {
            Some(Resolved::Macro(flavor, name)) => {
                // `syn` did not recurse into the body when it parsed the
                // file, but `parse_call` does, on top of how deep the parser
                // was at the body.
                let base = self.macro_depths.get(&open).copied().unwrap_or_default();
                if let Err(position) = recursion_estimate(tokens, base, MacroBodies::Parsed) {
                    let position = Range {
                        start: position,
                        end: position,
                    };
                    self.push(
                        Rule::UnparsableFile,
                        position,
                        range.start.line,
                        format!(
                            "this call could not be parsed, so it was not linted: {}",
                            too_deep()
                        ),
                        "simplify the call's arguments, or exclude the file from linting"
                            .to_owned(),
                    );
                    return;
                }
                if let Some(call) = parse_call(flavor, name, tokens.clone()) {
                    self.check_call(&call, name, range, open);
                }
            }
            Some(Resolved::Instrument) => {}
            None => self.scan_tokens(tokens.clone()),
        }
    }

    /// Finds macro invocations (`path!(..)`) in the token stream of a macro
    /// the linter does not know, such as `tokio::select!` or `assert!`.
    fn scan_tokens(&mut self, tokens: TokenStream) {
        let trees: Vec<TokenTree> = tokens.into_iter().collect();
        let mut index = 0;
        while let Some(tree) = trees.get(index) {
            match tree {
                TokenTree::Ident(_) => {
                    let (path, after) = path_at(&trees, index);
                    let bang = trees.get(after);
                    let body = trees.get(after + 1);
                    let is_bang =
                        matches!(bang, Some(TokenTree::Punct(punct)) if punct.as_char() == '!');
                    match (is_bang, body) {
                        (true, Some(TokenTree::Group(group))) => {
                            self.invocation(&path, &group.stream(), group.span_open().start());
                            index = after + 2;
                        }
                        (true, Some(TokenTree::Ident(_)))
                            if path.len() == 1 && path[0] == "macro_rules" =>
                        {
                            // `macro_rules! name { .. }`: skip the template.
                            index = after + 3;
                        }
                        _ => index = after.max(index + 1),
                    }
                }
                TokenTree::Group(group) => {
                    self.scan_tokens(group.stream());
                    index += 1;
                }
                _ => index += 1,
            }
        }
    }

    /// Lints one call; `open` is where its arguments' opening bracket is.
    fn check_call(&mut self, call: &Call, macro_name: &str, call_range: Range, open: LineColumn) {
        let anchor = call_range.start.line;
        let site = match call.kind {
            CallKind::Event => KeySite::Event,
            CallKind::Span => KeySite::Span,
        };
        if let (Some(trait_name), false) = (self.telemetry_impl.clone(), self.telemetry_suppressed)
        {
            self.push(
                Rule::TelemetryLoop,
                call_range,
                anchor,
                format!(
                    "`{macro_name}!` inside `impl {trait_name}` feeds the telemetry pipeline back into itself: each export can log, and each log is exported"
                ),
                "return the error instead (the SDK reports it), or emit inside `let _guard = opentelemetry::Context::enter_telemetry_suppressed_scope();`".to_owned(),
            );
        }
        for field in &call.fields {
            self.check_field(field, call.flavor, site, anchor);
        }
        if let Some(message) = &call.message {
            self.check_message(message, &call.fields, call.flavor, anchor);
        }
        self.check_field_list(
            &call.fields,
            call.flavor,
            call.flavor == Flavor::Tracing && call.message.is_some(),
            call_range,
            anchor,
        );
        if call.kind == CallKind::Event {
            self.check_event_shape(call, macro_name, call_range, open);
        }
    }

    /// OLB008, OLB009 and OLB010: what an event as a whole lacks.
    fn check_event_shape(
        &mut self,
        call: &Call,
        macro_name: &str,
        call_range: Range,
        open: LineColumn,
    ) {
        let anchor = call_range.start.line;
        if let (Flavor::Tracing, None, false, [field]) = (
            call.flavor,
            &call.message,
            call.has_name,
            call.fields.as_slice(),
        ) {
            if let (ValueSource::Shorthand(path), Capture::Plain, Key::Literal { text, .. }) =
                (&field.value, field.capture, &field.key)
            {
                if path.len() == 1 && text != "message" {
                    // What comes before the field (`event!`'s level, a
                    // `target:` or `parent:`) stays in the fixes.
                    let before = Range {
                        start: LineColumn {
                            line: open.line,
                            column: open.column + 1,
                        },
                        end: field.range.start,
                    };
                    let before = self
                        .snippet(before)
                        .or_else(|| self.joined_snippet(before))
                        .map(|text| format!("{} ", text.trim_end()))
                        .filter(|text| text.trim().ends_with(','))
                        .unwrap_or_default();
                    self.push(
                        Rule::BareIdentifierMessage,
                        field.range,
                        anchor,
                        format!(
                            "`{macro_name}!({before}{text})` records a field named `{text}` and leaves the message empty"
                        ),
                        format!(
                            "if `{text}` is the message, write `{macro_name}!({before}\"{{{text}}}\")`; if it is a value, add a constant message: `{macro_name}!({before}{text}, \"…\")`"
                        ),
                    );
                }
            }
        }
        if call.flavor == Flavor::Tracing
            && !call.has_name
            && matches!(call.severity, Some(Severity::Warn | Severity::Error))
        {
            self.push(
                Rule::MissingEventName,
                call_range,
                anchor,
                format!("`{macro_name}!` event has no `name:`"),
                format!(
                    "give it a stable name, e.g. `{macro_name}!(name: \"payment.declined\", ..)`: the bridge writes it to `event.name`, which backends group and alert on"
                ),
            );
        }
        if call.severity == Some(Severity::Error) && !call.fields.iter().any(is_error_field) {
            let fix = match call.flavor {
                Flavor::Tracing => "error = &e as &dyn std::error::Error",
                Flavor::Log => "error:err = e;",
            };
            self.push(
                Rule::ErrorWithoutErrorField,
                call_range,
                anchor,
                format!("error-level `{macro_name}!` carries no error field"),
                format!("attach the error that caused it: `{fix}`, so the record gets `exception.*` attributes"),
            );
        }
    }

    /// OLB012: repeated keys and computed `log` keys.
    fn check_field_list(
        &mut self,
        fields: &[Field],
        flavor: Flavor,
        has_message_field: bool,
        call_range: Range,
        anchor: usize,
    ) {
        let mut seen: HashMap<&str, Range> = HashMap::new();
        if has_message_field {
            seen.insert("message", call_range);
        }
        for field in fields {
            match &field.key {
                Key::Literal { text, range } => {
                    if seen.insert(text.as_str(), *range).is_some() {
                        let detail = if text == "message" && has_message_field {
                            "the format string already sets `message`"
                        } else {
                            "only one of the values is kept"
                        };
                        self.push(
                            Rule::FieldList,
                            *range,
                            anchor,
                            format!("key `{text}` appears twice in this call; {detail}"),
                            "rename one of them or drop it".to_owned(),
                        );
                    }
                }
                // `tracing`'s `{ CONST }` keys are constants; only `log`
                // evaluates a key expression at run time.
                Key::Computed { range } if flavor == Flavor::Log => {
                    self.push(
                        Rule::FieldList,
                        *range,
                        anchor,
                        "this key is computed at run time, so the attribute name is not visible in the source and cannot be checked".to_owned(),
                        "write the key as an identifier or string literal: `user_id = ..` or `\"user.id\" = ..`".to_owned(),
                    );
                }
                Key::Computed { .. } => {}
            }
        }
    }

    fn check_field(&mut self, field: &Field, flavor: Flavor, site: KeySite, anchor: usize) {
        let value = match &field.value {
            ValueSource::Shorthand(path) => path.last().map(|ident| Value::Named(strip_raw(ident))),
            ValueSource::Expr(expr) => Some(Value::Expr(expr)),
            ValueSource::Declared => None,
        };
        let masked = value.as_ref().is_some_and(|value| is_masked(value.expr()));
        let mut key_is_secret = false;
        if let Key::Literal { text, range } = &field.key {
            for finding in check_key(text, site) {
                if finding.rule == Rule::Secret {
                    if masked {
                        continue;
                    }
                    key_is_secret = true;
                }
                self.push(finding.rule, *range, anchor, finding.message, finding.help);
            }
            if let Some(finding) = log_message_key(text).filter(|_| flavor == Flavor::Log) {
                self.push(finding.rule, *range, anchor, finding.message, finding.help);
            }
            if text != "message" {
                self.key_uses.push(KeyUse {
                    key: text.clone(),
                    range: *range,
                    anchor_line: anchor,
                });
            }
        }
        let Some(value) = value else {
            return;
        };
        // A computed key (`{ KEY }`) is shown, and kept in fixes, as the
        // source writes it.
        let key_text = match &field.key {
            Key::Literal { text, .. } => text.clone(),
            Key::Computed { range } => self.snippet(*range).unwrap_or_else(|| "value".to_owned()),
        };
        let (capture, value) = unwrap_capture_call(field.capture, value);
        let leaf = value.leaf();
        let preformatted = value.expr().and_then(preformatted);
        let shown = value
            .expr()
            .and_then(secret_element)
            .or_else(|| leaf.clone());
        let secret = secret_in(shown.as_deref(), preformatted.as_ref());
        if let (Some(name), false, false) = (secret, key_is_secret, masked) {
            self.push(
                Rule::Secret,
                field.value_range,
                anchor,
                format!("field `{key_text}` records `{name}`, which looks like a secret; log records are copied to collectors and backends and kept for a long time"),
                "drop the field, or record something that is not the secret: whether it is set, its length, or a keyed hash".to_owned(),
            );
            return;
        }
        let error_name = error_in(leaf.as_deref(), capture, preformatted.as_ref());
        if let Some(error) = error_name {
            let how = match (&preformatted, capture) {
                (Some(Preformatted::ToString(_)), _) => "with `.to_string()`".to_owned(),
                (Some(Preformatted::Format(_)), _) => "with `format!`".to_owned(),
                (Some(Preformatted::FormatArgs(_)), _) => "with `format_args!`".to_owned(),
                (None, Capture::Debug) => "with `Debug` (`?`)".to_owned(),
                (None, _) => "with `Display` (`%`)".to_owned(),
            };
            self.push(
                Rule::ErrorAsString,
                field.value_range,
                anchor,
                format!("error `{error}` is recorded as a string {how}; its type and source chain are lost"),
                error_fix(
                    flavor,
                    &key_text,
                    &error,
                    &self.value_text(&value, preformatted.as_ref(), &error),
                ),
            );
            return;
        }
        if let Some(dump) = dump_in(leaf.as_deref(), capture, preformatted.as_ref()) {
            self.push(
                Rule::OpaqueDebug,
                field.value_range,
                anchor,
                format!("field `{key_text}` dumps `{dump}` with `Debug`: one opaque string that no backend can filter or aggregate on"),
                dump_fix(&dump, &self.value_text(&value, preformatted.as_ref(), &dump)),
            );
            return;
        }
        match preformatted {
            Some(Preformatted::ToString(receiver)) => {
                let receiver = self.snippet_of(receiver);
                self.push(
                    Rule::PreformattedValue,
                    field.value_range,
                    anchor,
                    format!("field `{key_text}` is converted with `.to_string()` before it is logged"),
                    format!(
                        "record the value itself: `{}` (no allocation when the event is filtered out)",
                        field_fix(flavor, &key_text, &receiver, Capture::Display)
                    ),
                );
            }
            Some(Preformatted::Format(arguments)) => {
                let help = match arguments.as_ref().and_then(single_argument) {
                    Some((argument, debug)) => {
                        let capture = if debug {
                            Capture::Debug
                        } else {
                            Capture::Display
                        };
                        format!(
                            "record the value itself: `{}`",
                            field_fix(flavor, &key_text, &self.snippet_of(argument), capture)
                        )
                    }
                    None => {
                        let key = written_key(flavor, &key_text);
                        let (example, kept) = match flavor {
                            Flavor::Tracing => {
                                ("a = %a, b = %b", format!("{key} = format_args!(…)"))
                            }
                            Flavor::Log => {
                                ("a:% = a, b:% = b", format!("{key}:% = format_args!(…)"))
                            }
                        };
                        format!("record each value as its own field instead of one formatted string (`{example}`), or, to keep this text, format it only when the record is kept: `{kept}` with the same arguments")
                    }
                };
                self.push(
                    Rule::PreformattedValue,
                    field.value_range,
                    anchor,
                    format!("field `{key_text}` is pre-formatted with `format!`"),
                    help,
                );
            }
            Some(Preformatted::FormatArgs(_)) | None => {}
        }
    }

    fn check_message(
        &mut self,
        message: &Message,
        fields: &[Field],
        flavor: Flavor,
        anchor: usize,
    ) {
        let Some(literal) = &message.format else {
            return;
        };
        let token = literal.token().to_string();
        let Some(format) = parse_format_literal(&token) else {
            return;
        };
        let start = literal.span().start();
        let offsets: Vec<usize> = format
            .placeholders
            .iter()
            .flat_map(|placeholder| [placeholder.start, placeholder.end])
            .collect();
        let positions = positions_in_token(start, &token, &offsets);
        // The range, source text and suggested field of each value
        // interpolated.
        let mut interpolated: Vec<(Range, String, String)> = Vec::new();
        // The keys the call has and those suggested so far: no value may
        // be given a key that is taken. Sets, so that a generated call with
        // many values stays linear.
        let mut names: HashSet<String> = fields
            .iter()
            .filter_map(|field| match &field.key {
                Key::Literal { text, .. } => Some(text.clone()),
                Key::Computed { .. } => None,
            })
            .collect();
        let mut texts: HashSet<String> = HashSet::new();
        let mut numbered: HashMap<String, usize> = HashMap::new();
        // The values the call records as fields, by their source text: one
        // formatted into the message as well needs no field of its own.
        let recorded = self.recorded_values(fields);
        // The values formatted into the message that are fields already,
        // with their keys.
        let mut repeated: Vec<(Range, String, String)> = Vec::new();
        for (index, (placeholder, value)) in resolve_placeholders(&format, message)
            .into_iter()
            .enumerate()
        {
            let (Some(&range_start), Some(&range_end)) =
                (positions.get(2 * index), positions.get(2 * index + 1))
            else {
                continue;
            };
            let range = Range {
                start: range_start,
                end: range_end,
            };
            let Some(value) = value else {
                continue;
            };
            let leaf = value.leaf();
            let capture = if placeholder.debug {
                Capture::Debug
            } else {
                Capture::Display
            };
            let preformatted = value.expr().and_then(preformatted);
            let shown = value
                .expr()
                .and_then(secret_element)
                .or_else(|| leaf.clone());
            let secret = secret_in(shown.as_deref(), preformatted.as_ref());
            if let (Some(name), false) = (secret, is_masked(value.expr())) {
                self.push(
                    Rule::Secret,
                    range,
                    anchor,
                    format!(
                        "the message formats `{name}`, which looks like a secret; log records are copied to collectors and backends and kept for a long time"
                    ),
                    "drop it from the message, or log something that is not the secret: whether it is set, its length, or a keyed hash".to_owned(),
                );
                continue;
            }
            if let Some(error) = error_in(leaf.as_deref(), capture, preformatted.as_ref()) {
                self.push(
                    Rule::ErrorAsString,
                    range,
                    anchor,
                    format!("error `{error}` is formatted into the message; its type and source chain are lost"),
                    error_fix(
                        flavor,
                        "error",
                        &error,
                        &self.value_text(&value, preformatted.as_ref(), &error),
                    ),
                );
                continue;
            }
            if let Some(dump) = dump_in(leaf.as_deref(), capture, preformatted.as_ref()) {
                self.push(
                    Rule::OpaqueDebug,
                    range,
                    anchor,
                    format!("the message dumps `{dump}` with `Debug`: one opaque string that no backend can filter or aggregate on"),
                    dump_fix(&dump, &self.value_text(&value, preformatted.as_ref(), &dump)),
                );
                continue;
            }
            let text = match &value {
                Value::Expr(expr) => self.snippet_of(expr),
                Value::Named(name) => name.clone(),
            };
            if matches!(
                preformatted,
                Some(Preformatted::ToString(_) | Preformatted::Format(_))
            ) {
                self.push(
                    Rule::PreformattedValue,
                    range,
                    anchor,
                    format!("message argument `{text}` is pre-formatted before it is logged"),
                    "keep the message constant and record the values as fields".to_owned(),
                );
                continue;
            }
            // A constant argument is the same on every call, so it is text
            // of the message written elsewhere.
            if value.is_constant() {
                continue;
            }
            // A value formatted twice (`"{0} {0}"`) is still one field.
            if !texts.insert(text.clone()) {
                continue;
            }
            if let Some(key) = self
                .place_text(&value)
                .and_then(|place| recorded.get(&place))
            {
                repeated.push((range, text, key.clone()));
                continue;
            }
            let name = unique_field_name(&value, &text, &names, &mut numbered);
            let fix = field_fix(flavor, &name, &text, capture);
            names.insert(name);
            interpolated.push((range, text, fix));
        }
        // A message that is one `{}` alone was built elsewhere; one `{:?}`
        // alone is a value's dump, whatever its name.
        let only_placeholder = format.placeholders.len() == 1
            && format.text.trim().is_empty()
            && format
                .placeholders
                .first()
                .is_some_and(|placeholder| !placeholder.debug);
        let first = interpolated
            .iter()
            .chain(&repeated)
            .map(|(range, _, _)| *range)
            .min_by_key(|range| (range.start.line, range.start.column));
        if let (Some(range), false) = (first, only_placeholder) {
            let help = match (interpolated.is_empty(), repeated_note(&repeated)) {
                (true, Some(note)) => format!("keep the message constant: {note}"),
                (_, note) => {
                    let fields: Vec<&str> = interpolated
                        .iter()
                        .map(|(_, _, fix)| fix.as_str())
                        .collect();
                    let example = match flavor {
                        Flavor::Tracing => format!("{}, \"…\"", fields.join(", ")),
                        Flavor::Log => format!("{}; \"…\"", fields.join(", ")),
                    };
                    let note = note.map(|note| format!("; {note}")).unwrap_or_default();
                    format!(
                        "keep the message constant and pass the values as fields: `{example}`{note}"
                    )
                }
            };
            self.push(
                Rule::InterpolatedMessage,
                range,
                anchor,
                format!(
                    "{} formatted into the message: the body differs on every call and the values cannot be queried",
                    plural(
                        interpolated.len() + repeated.len(),
                        "value is",
                        "values are"
                    )
                ),
                help,
            );
        }
    }

    /// The variables and fields a call records as fields, by
    /// [`Checker::place_text`], each with its key as the source writes it.
    fn recorded_values(&self, fields: &[Field]) -> HashMap<String, String> {
        let mut recorded = HashMap::new();
        for field in fields {
            let text = match &field.value {
                ValueSource::Shorthand(path) => {
                    path.iter().map(strip_raw).collect::<Vec<_>>().join(".")
                }
                ValueSource::Expr(expr) => {
                    let (_, value) = unwrap_capture_call(field.capture, Value::Expr(expr));
                    match self.place_text(&value) {
                        Some(text) => text,
                        None => continue,
                    }
                }
                ValueSource::Declared => continue,
            };
            let key = match &field.key {
                Key::Literal { text, .. } => text.clone(),
                Key::Computed { range } => match self.snippet(*range) {
                    Some(key) => key,
                    None => continue,
                },
            };
            recorded.entry(text).or_insert(key);
        }
        recorded
    }

    /// The source text of a value that names a variable or a field of one
    /// (`user`, `&order.id`), without the reference: two such texts are the
    /// same value, where two calls written alike (`next_id()`) need not be.
    fn place_text(&self, value: &Value<'_>) -> Option<String> {
        fn is_place(expr: &Expr) -> bool {
            match expr {
                Expr::Path(path) => path.qself.is_none(),
                Expr::Field(field) => is_place(&field.base),
                _ => false,
            }
        }
        match value {
            Value::Named(name) => Some(name.clone()),
            Value::Expr(expr) => {
                let expr = without_reference(expr);
                is_place(expr).then(|| self.snippet_of(expr))
            }
        }
    }

    fn check_instrument_attributes(&mut self, attrs: &[Attribute], signature: &Signature) {
        for attr in attrs {
            if attr.path().is_ident("cfg_attr") {
                let mut applied = Vec::new();
                unfold_cfg_attr(&attr.meta, &mut applied);
                for meta in &applied {
                    self.check_instrument_meta(meta, signature);
                }
            } else {
                self.check_instrument_meta(&attr.meta, signature);
            }
        }
    }

    /// Checks one attribute, when it is `#[instrument]`.
    fn check_instrument_meta(&mut self, meta: &Meta, signature: &Signature) {
        let segments: Vec<Ident> = meta
            .path()
            .segments
            .iter()
            .map(|segment| segment.ident.clone())
            .collect();
        let names: Vec<String> = segments.iter().map(Ident::to_string).collect();
        if self.imports.resolve(&names) != Some(Resolved::Instrument) {
            return;
        }
        let range = match (segments.first(), segments.last()) {
            (Some(first), Some(last)) => Range::between(first.span(), last.span()),
            _ => return,
        };
        let args = match meta {
            Meta::Path(_) => InstrumentArgs::default(),
            Meta::List(list) => {
                if let Some(position) = self.too_deep_macro_body(&list.tokens) {
                    self.push(
                        Rule::UnparsableFile,
                        Range {
                            start: position,
                            end: position,
                        },
                        range.start.line,
                        format!(
                            "this attribute could not be parsed, so it was not linted: {}",
                            too_deep()
                        ),
                        "simplify the attribute's fields, or exclude the file from linting"
                            .to_owned(),
                    );
                    return;
                }
                match parse_instrument(list.tokens.clone()) {
                    Some(args) => args,
                    None => return,
                }
            }
            Meta::NameValue(_) => return,
        };
        self.check_instrument(&args, signature, range);
    }

    /// Where a macro body inside an attribute's `tokens` (a `format!` in a
    /// field's value, which the linter parses) could make the parser
    /// recurse too deep: `syn` kept such a body as tokens when it parsed
    /// the file, so only its brackets were counted then, as for a call's
    /// body (see [`Checker::invocation`]).
    fn too_deep_macro_body(&self, tokens: &TokenStream) -> Option<LineColumn> {
        let mut streams = vec![tokens.clone()];
        while let Some(stream) = streams.pop() {
            let mut before: [Option<TokenTree>; 2] = [None, None];
            for tree in stream {
                if let TokenTree::Group(group) = &tree {
                    let is_macro_body = matches!(
                        &before,
                        [Some(TokenTree::Ident(_)), Some(TokenTree::Punct(bang))] if bang.as_char() == '!'
                    );
                    if is_macro_body {
                        let open = group.span_open().start();
                        let base = self.macro_depths.get(&open).copied().unwrap_or_default();
                        if let Err(position) =
                            recursion_estimate(&group.stream(), base, MacroBodies::Parsed)
                        {
                            return Some(position);
                        }
                    } else {
                        streams.push(group.stream());
                    }
                }
                before = [before[1].take(), Some(tree)];
            }
        }
        None
    }

    fn check_instrument(&mut self, args: &InstrumentArgs, signature: &Signature, range: Range) {
        let anchor = range.start.line;
        if let Some(trait_name) = self.telemetry_impl.clone() {
            self.push(
                Rule::TelemetryLoop,
                range,
                anchor,
                format!("`#[instrument]` inside `impl {trait_name}` creates spans inside the telemetry pipeline"),
                "remove the attribute: the SDK reports export failures itself".to_owned(),
            );
        }
        for field in &args.fields {
            self.check_field(field, Flavor::Tracing, KeySite::Span, anchor);
        }
        self.check_field_list(&args.fields, Flavor::Tracing, false, range, anchor);
        if args.skip_all {
            return;
        }
        // `tracing-attributes` leaves out an argument that is skipped, and
        // one that a field of `fields(..)` with the same single-segment name
        // replaces; a dotted name (`password.len`) or a `{ CONST }` key
        // replaces nothing.
        let skipped = |name: &str| {
            args.skipped.iter().any(|skipped| skipped == name)
                || args.fields.iter().any(|field| {
                    matches!(&field.key, Key::Literal { text, .. } if text == name && !text.contains('.'))
                })
        };
        // The type parameters an argument's type can name: the function's
        // own and those of the impl or trait around it.
        let mut open_types = type_params(&signature.generics);
        open_types.extend(self.enclosing_type_params.iter().cloned());
        for input in &signature.inputs {
            match input {
                FnArg::Receiver(receiver) => {
                    if !skipped("self") {
                        self.push(
                            Rule::OpaqueDebug,
                            Range::of(receiver.self_token.span),
                            anchor,
                            "`#[instrument]` records `self` with `Debug`: the whole struct becomes one opaque string on every span".to_owned(),
                            "add `skip(self)` and record what identifies it, e.g. `fields(id = %self.id)`".to_owned(),
                        );
                    }
                }
                FnArg::Typed(typed) => {
                    let mut bindings = Vec::new();
                    collect_bindings(&typed.pat, Some(&typed.ty), &mut bindings);
                    for binding in bindings {
                        let name = strip_raw(binding.ident);
                        if !skipped(&name) {
                            self.check_instrumented_binding(&binding, &name, &open_types, anchor);
                        }
                    }
                }
            }
        }
    }

    /// OLB003, OLB005 and OLB007 for one name that `#[instrument]` records
    /// from the arguments.
    fn check_instrumented_binding(
        &mut self,
        binding: &Binding<'_>,
        name: &str,
        open_types: &[Ident],
        anchor: usize,
    ) {
        let argument_range = Range::of(binding.ident.span());
        // A binding whose type the pattern does not show may be text.
        let may_hold_secret = binding.ty.is_none_or(|ty| may_hold_secret(ty, open_types));
        for finding in check_key(name, KeySite::Span) {
            let applies = match finding.rule {
                Rule::Secret => may_hold_secret,
                Rule::ReservedKey => true,
                _ => false,
            };
            if applies {
                self.push(
                    finding.rule,
                    argument_range,
                    anchor,
                    format!(
                        "`#[instrument]` records argument `{name}`: {}",
                        finding.message
                    ),
                    format!("add `skip({name})`; otherwise {}", finding.help),
                );
            }
        }
        if is_dump_name(name) && !binding.ty.is_some_and(is_value_type) {
            self.push(
                Rule::OpaqueDebug,
                argument_range,
                anchor,
                format!("`#[instrument]` records argument `{name}` with `Debug`: one opaque string on every span"),
                format!("add `skip({name})` and record the parts you need with `fields(..)`; {}", dump_fix(name, name)),
            );
        }
    }
}

/// A name that `#[instrument]` records from an argument, with its type when
/// the pattern shows it.
struct Binding<'a> {
    ident: &'a Ident,
    ty: Option<&'a Type>,
}

/// The names an argument pattern binds, as `tracing-attributes` records
/// them: it flattens reference, struct, tuple and tuple-struct patterns
/// (`State(config): State<Config>`, `(user, password): (&str, &str)`) and
/// records each binding, which it cannot type, with `Debug`. Only a tuple
/// pattern written against a tuple type of the same length pairs each
/// binding with its element's type; any other binding's type is unknown.
/// `x @ pattern` records `x` alone, and other patterns record nothing.
fn collect_bindings<'a>(pat: &'a Pat, ty: Option<&'a Type>, bindings: &mut Vec<Binding<'a>>) {
    match pat {
        Pat::Ident(pattern) => bindings.push(Binding {
            ident: &pattern.ident,
            ty,
        }),
        Pat::Reference(reference) => {
            let inner = match ty.map(without_parens) {
                Some(Type::Reference(reference)) => Some(reference.elem.as_ref()),
                _ => None,
            };
            collect_bindings(&reference.pat, inner, bindings);
        }
        Pat::Tuple(tuple) => {
            // A `..` in the pattern stands for exactly one element when the
            // lengths agree, so the elements still pair up by position.
            let elements: Vec<Option<&Type>> = match ty.map(without_parens) {
                Some(Type::Tuple(types)) if types.elems.len() == tuple.elems.len() => {
                    types.elems.iter().map(Some).collect()
                }
                _ => vec![None; tuple.elems.len()],
            };
            for (element, ty) in tuple.elems.iter().zip(elements) {
                collect_bindings(element, ty, bindings);
            }
        }
        Pat::TupleStruct(tuple_struct) => {
            for element in &tuple_struct.elems {
                collect_bindings(element, None, bindings);
            }
        }
        Pat::Struct(structure) => {
            for field in &structure.fields {
                collect_bindings(&field.pat, None, bindings);
            }
        }
        _ => {}
    }
}

/// The type inside any parentheses and invisible groups around it.
fn without_parens(ty: &Type) -> &Type {
    match ty {
        Type::Paren(paren) => without_parens(&paren.elem),
        Type::Group(group) => without_parens(&group.elem),
        other => other,
    }
}

/// Reads a `path` of identifiers joined by `::` starting at `index`, and
/// returns it with the index just past it.
fn path_at(trees: &[TokenTree], index: usize) -> (Vec<Ident>, usize) {
    let mut path = Vec::new();
    let mut position = index;
    while let Some(TokenTree::Ident(ident)) = trees.get(position) {
        path.push(ident.clone());
        position += 1;
        let is_separator = matches!(
            (trees.get(position), trees.get(position + 1), trees.get(position + 2)),
            (Some(TokenTree::Punct(first)), Some(TokenTree::Punct(second)), Some(TokenTree::Ident(_)))
                if first.as_char() == ':' && second.as_char() == ':'
        );
        if !is_separator {
            break;
        }
        position += 2;
    }
    (path, position)
}

/// Pairs every placeholder with the value it formats (`None` when the
/// argument is missing, which the compiler rejects).
fn resolve_placeholders<'m>(
    format: &'m FormatString,
    message: &'m Message,
) -> Vec<(&'m Placeholder, Option<Value<'m>>)> {
    let mut next = 0;
    // The first argument of each name, as `format_args!` takes it; looked
    // up in a map, so that a generated call with many stays linear.
    let mut named: HashMap<&str, &Expr> = HashMap::new();
    for (name, expr) in &message.named {
        named.entry(name.as_str()).or_insert(expr);
    }
    format
        .placeholders
        .iter()
        .map(|placeholder| {
            if placeholder.star_precision {
                next += 1;
            }
            let value = match &placeholder.argument {
                ArgumentRef::Next => {
                    next += 1;
                    message.positional.get(next - 1).map(Value::Expr)
                }
                ArgumentRef::Index(index) => message.positional.get(*index).map(Value::Expr),
                ArgumentRef::Name(name) => Some(
                    named
                        .get(name.as_str())
                        .map_or_else(|| Value::Named(name.clone()), |expr| Value::Expr(expr)),
                ),
            };
            (placeholder, value)
        })
        .collect()
}

/// The line and column of each character offset (in ascending order)
/// inside a token that starts at `start`, in one pass over the token.
fn positions_in_token(start: LineColumn, token: &str, offsets: &[usize]) -> Vec<LineColumn> {
    let mut positions = Vec::with_capacity(offsets.len());
    let mut position = start;
    let mut chars = token.chars();
    let mut consumed = 0;
    for &offset in offsets {
        while consumed < offset {
            match chars.next() {
                Some('\n') => {
                    position.line += 1;
                    position.column = 0;
                }
                Some(_) => position.column += 1,
                None => break,
            }
            consumed += 1;
        }
        positions.push(position);
    }
    positions
}

fn strip_raw(ident: &Ident) -> String {
    let text = ident.to_string();
    text.strip_prefix("r#").map(str::to_owned).unwrap_or(text)
}

/// Methods that hand back (a view of) the same value, so the value keeps
/// the name of its receiver: `password.as_bytes()` is the password.
const TRANSPARENT_METHODS: [&str; 26] = [
    "as_ref",
    "as_str",
    "as_bytes",
    "as_deref",
    "as_mut",
    "as_slice",
    "borrow",
    "clone",
    "cloned",
    "copied",
    "deref",
    "into_bytes",
    "into_inner",
    "into_owned",
    "to_owned",
    "to_vec",
    "to_ascii_lowercase",
    "to_ascii_uppercase",
    "to_lowercase",
    "to_uppercase",
    "trim",
    "unwrap",
    "expose",
    "expose_secret",
    "lock",
    "read",
];

/// Functions of one argument whose value shows the argument whole, so it
/// keeps the argument's name: `Some(token)`,
/// `String::from_utf8_lossy(&secret)`, `hex::encode(&key)`. A function
/// that is not listed (a hash, say) gives a value with no name.
const REVEALING_FUNCTIONS: [&str; 8] = [
    "Some",
    "Ok",
    "Err",
    "from",
    "from_utf8",
    "from_utf8_lossy",
    "encode",
    "encode_upper",
];

/// The first words of a name that says whether something holds, not what
/// it is: `has_password`, `is_err` and `requires_token` are booleans.
const PREDICATE_WORDS: [&str; 10] = [
    "is", "has", "had", "was", "can", "should", "needs", "requires", "uses", "contains",
];

/// Whether a value's name reads as a yes or no about a thing
/// ([`PREDICATE_WORDS`]) rather than the thing itself.
fn is_predicate_name(name: &str) -> bool {
    // Split at camelCase humps too: `hasPassword` and `isError` are
    // predicates, as the secret check reads `password` in them.
    match identifier_words(name).as_slice() {
        [first, _, ..] => PREDICATE_WORDS.contains(&first.to_ascii_lowercase().as_str()),
        _ => false,
    }
}

/// The name of a secret among the parts of a tuple or an array value, each
/// named as [`leaf_name`] names a value: `(user, password)` shows the
/// password.
fn secret_element(expr: &Expr) -> Option<String> {
    let elements = match expr {
        Expr::Tuple(tuple) => &tuple.elems,
        Expr::Array(array) => &array.elems,
        Expr::Reference(reference) => return secret_element(&reference.expr),
        Expr::Paren(paren) => return secret_element(&paren.expr),
        Expr::Group(group) => return secret_element(&group.expr),
        _ => return None,
    };
    elements.iter().find_map(|element| {
        secret_element(element).or_else(|| {
            leaf_name(element).filter(|name| !is_predicate_name(name) && is_secret_name(name))
        })
    })
}

/// An expression with the references and parentheses around it taken
/// off, as a suggested fix writes its own.
fn without_reference(expr: &Expr) -> &Expr {
    match expr {
        Expr::Reference(reference) => without_reference(&reference.expr),
        Expr::Paren(paren) => without_reference(&paren.expr),
        Expr::Group(group) => without_reference(&group.expr),
        other => other,
    }
}

/// Names the thing a value expression reads: `req` for `&req`, `password` for
/// `user.password.as_str()`, `headers` for `req.headers()`.
fn leaf_name(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Path(path) => path
            .path
            .segments
            .last()
            .map(|segment| strip_raw(&segment.ident)),
        Expr::Field(field) => match &field.member {
            Member::Named(ident) => Some(strip_raw(ident)),
            Member::Unnamed(_) => leaf_name(&field.base),
        },
        Expr::Reference(reference) => leaf_name(&reference.expr),
        Expr::Unary(unary) if matches!(unary.op, UnOp::Deref(_)) => leaf_name(&unary.expr),
        Expr::Paren(paren) => leaf_name(&paren.expr),
        Expr::Group(group) => leaf_name(&group.expr),
        Expr::Cast(cast) => leaf_name(&cast.expr),
        Expr::Try(try_expr) => leaf_name(&try_expr.expr),
        Expr::MethodCall(call) if call.args.is_empty() => {
            let method = call.method.to_string();
            if TRANSPARENT_METHODS.contains(&method.as_str()) {
                leaf_name(&call.receiver)
            } else {
                Some(method)
            }
        }
        Expr::Call(call) => match (call.func.as_ref(), call.args.first(), call.args.len()) {
            (Expr::Path(function), Some(argument), 1)
                if function.path.segments.last().is_some_and(|segment| {
                    REVEALING_FUNCTIONS.contains(&segment.ident.to_string().as_str())
                }) =>
            {
                leaf_name(argument)
            }
            _ => None,
        },
        _ => None,
    }
}

/// `tracing::field::debug(x)` and `field::display(x)` are the function forms
/// of the `?` and `%` sigils.
fn unwrap_capture_call(capture: Capture, value: Value<'_>) -> (Capture, Value<'_>) {
    if let Value::Expr(Expr::Call(call)) = value {
        if let (Expr::Path(function), Some(argument), 1) =
            (call.func.as_ref(), call.args.first(), call.args.len())
        {
            let name = function
                .path
                .segments
                .last()
                .map(|segment| segment.ident.to_string());
            let argument = match argument {
                Expr::Reference(reference) => reference.expr.as_ref(),
                other => other,
            };
            match name.as_deref() {
                Some("debug") => return (Capture::Debug, Value::Expr(argument)),
                Some("display") => return (Capture::Display, Value::Expr(argument)),
                _ => {}
            }
        }
    }
    (capture, value)
}

fn preformatted(expr: &Expr) -> Option<Preformatted<'_>> {
    match expr {
        Expr::MethodCall(call) if call.args.is_empty() => match call.method.to_string().as_str() {
            "to_string" => Some(Preformatted::ToString(&call.receiver)),
            "as_str" | "as_ref" | "clone" => preformatted(&call.receiver),
            _ => None,
        },
        Expr::Macro(mac) => {
            let name = mac.mac.path.segments.last()?.ident.to_string();
            let arguments = || parse_format_arguments(mac.mac.tokens.clone());
            match name.as_str() {
                "format" => Some(Preformatted::Format(arguments())),
                "format_args" => Some(Preformatted::FormatArgs(arguments())),
                _ => None,
            }
        }
        Expr::Reference(reference) => preformatted(&reference.expr),
        Expr::Paren(paren) => preformatted(&paren.expr),
        Expr::Group(group) => preformatted(&group.expr),
        _ => None,
    }
}

/// The single argument of `format!("{}", x)` or `format!("{:?}", x)`, and
/// whether it is formatted with `Debug`. `None` for a placeholder with a
/// width, precision or radix (`{:x}`, `{:.2}`), whose text the value
/// recorded as a field would not keep.
fn single_argument(message: &Message) -> Option<(&Expr, bool)> {
    let literal = message.format.as_ref()?;
    let format = parse_format_literal(&literal.token().to_string())?;
    match (
        format.placeholders.as_slice(),
        message.positional.as_slice(),
    ) {
        ([placeholder], [argument])
            if placeholder.argument == ArgumentRef::Next
                && placeholder.plain
                && format.text.trim().is_empty() =>
        {
            Some((argument, placeholder.debug))
        }
        _ => None,
    }
}

/// The values `format!` formats, with whether each is formatted with `Debug`.
fn format_values(message: &Message) -> Vec<(Option<String>, bool)> {
    let Some(literal) = &message.format else {
        return Vec::new();
    };
    let Some(format) = parse_format_literal(&literal.token().to_string()) else {
        return Vec::new();
    };
    resolve_placeholders(&format, message)
        .into_iter()
        .filter_map(|(placeholder, value)| Some((value?.leaf(), placeholder.debug)))
        .collect()
}

/// The name of a secret that a value records: itself, or what it was
/// formatted from (`token.to_string()`, `format!("Bearer {token}")`).
fn secret_in(leaf: Option<&str>, preformatted: Option<&Preformatted<'_>>) -> Option<String> {
    named_in(leaf, true, preformatted, is_secret_name)
}

/// The name of an error that a value records as a string.
fn error_in(
    leaf: Option<&str>,
    capture: Capture,
    preformatted: Option<&Preformatted<'_>>,
) -> Option<String> {
    let as_text = matches!(capture, Capture::Debug | Capture::Display);
    named_in(leaf, as_text, preformatted, is_error_name)
}

/// The name `is_kind` picks out among what a value was formatted from
/// (`x.to_string()`, the arguments of `format!`), or, when it was not
/// pre-formatted and `own_name_counts`, its own.
fn named_in(
    leaf: Option<&str>,
    own_name_counts: bool,
    preformatted: Option<&Preformatted<'_>>,
    is_kind: fn(&str) -> bool,
) -> Option<String> {
    // A yes or no about a secret or an error (`has_password`,
    // `res.is_err()`) is neither.
    let is_kind = |name: &str| !is_predicate_name(name) && is_kind(name);
    match preformatted {
        Some(Preformatted::ToString(receiver)) => leaf_name(receiver).filter(|name| is_kind(name)),
        Some(Preformatted::Format(Some(arguments)) | Preformatted::FormatArgs(Some(arguments))) => {
            format_values(arguments)
                .into_iter()
                .find_map(|(name, _)| name.filter(|name| is_kind(name)))
        }
        Some(Preformatted::Format(None) | Preformatted::FormatArgs(None)) => None,
        None => leaf
            .filter(|name| own_name_counts && is_kind(name))
            .map(str::to_owned),
    }
}

/// The name of a request, header map, configuration or `self` that a value
/// dumps with `Debug`.
fn dump_in(
    leaf: Option<&str>,
    capture: Capture,
    preformatted: Option<&Preformatted<'_>>,
) -> Option<String> {
    match preformatted {
        Some(Preformatted::Format(Some(arguments)) | Preformatted::FormatArgs(Some(arguments))) => {
            format_values(arguments)
                .into_iter()
                .find_map(|(name, debug)| name.filter(|name| debug && is_dump_name(name)))
        }
        Some(_) => None,
        None => (capture == Capture::Debug)
            .then_some(leaf)
            .flatten()
            .filter(|name| is_dump_name(name))
            .map(str::to_owned),
    }
}

fn words(name: &str) -> impl Iterator<Item = String> + '_ {
    name.split(['_', '.'])
        .filter(|word| !word.is_empty())
        .map(str::to_ascii_lowercase)
}

/// Whether a name reads as an error: `e`, `err`, `error`, or ending in
/// `_err` / `_error` (`io_err`, `parse_error`).
fn is_error_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower == "e"
        || words(&lower)
            .last()
            .is_some_and(|last| last == "err" || last == "error")
}

/// Whether a name reads as a request, response, header map, configuration
/// or the receiver.
fn is_dump_name(name: &str) -> bool {
    const DUMPS: [&str; 11] = [
        "req",
        "request",
        "resp",
        "response",
        "headers",
        "headermap",
        "config",
        "cfg",
        "configuration",
        "settings",
        "self",
    ];
    let lower = name.to_ascii_lowercase();
    lower == "header_map"
        || words(&lower)
            .last()
            .is_some_and(|last| DUMPS.contains(&last.as_str()))
}

/// Whether `#[instrument]` records an argument of this type as a plain value
/// rather than with `Debug`.
fn is_value_type(ty: &Type) -> bool {
    match ty {
        Type::Reference(reference) => is_value_type(&reference.elem),
        Type::Paren(paren) => is_value_type(&paren.elem),
        Type::Path(path) => path.path.segments.last().is_some_and(|segment| {
            matches!(
                segment.ident.to_string().as_str(),
                "bool"
                    | "char"
                    | "str"
                    | "String"
                    | "u8"
                    | "u16"
                    | "u32"
                    | "u64"
                    | "u128"
                    | "usize"
                    | "i8"
                    | "i16"
                    | "i32"
                    | "i64"
                    | "i128"
                    | "isize"
                    | "f32"
                    | "f64"
                    | "Path"
                    | "PathBuf"
            )
        }),
        _ => false,
    }
}

/// The names of the type parameters that `generics` declares.
fn type_params(generics: &Generics) -> Vec<Ident> {
    generics
        .type_params()
        .map(|param| param.ident.clone())
        .collect()
}

/// Whether `#[instrument]` could record a secret from an argument of this
/// type: text, bytes, integers and `Uuid`s can hold one (a password, a key,
/// a PIN, a session id), and so can a type left open (one of the type
/// parameters `open`, of the function or of the impl or trait around it,
/// or an associated type of one such as `S::Password`; a qualified path,
/// `impl Trait`, `dyn Trait`) and a wrapper named `Secret…`. A container
/// (`Option`, `Vec`, `HashMap`, `Result`, a tuple, an array …) holds one
/// when any of its type arguments or elements does: its `Debug` prints
/// them all. Any other named type (`CancellationToken`, a lexer's `Token`)
/// is recorded with its `Debug`, which its author writes, so an argument's
/// name alone does not make it a secret; nor does a pointer, whose `Debug`
/// is its address.
fn may_hold_secret(ty: &Type, open: &[Ident]) -> bool {
    /// Types whose `Debug` prints what their type arguments hold.
    const CONTAINERS: [&str; 19] = [
        "Option",
        "Box",
        "Rc",
        "Arc",
        "Cow",
        "Vec",
        "VecDeque",
        "LinkedList",
        "RefCell",
        "Mutex",
        "RwLock",
        "HashMap",
        "BTreeMap",
        "HashSet",
        "BTreeSet",
        "IndexMap",
        "IndexSet",
        "BinaryHeap",
        "Result",
    ];
    /// Text, bytes, integers and ids.
    const HOLDERS: [&str; 23] = [
        "str",
        "String",
        "OsStr",
        "OsString",
        "CStr",
        "CString",
        "char",
        "Bytes",
        "BytesMut",
        "HeaderValue",
        "u8",
        "u16",
        "u32",
        "u64",
        "u128",
        "usize",
        "i8",
        "i16",
        "i32",
        "i64",
        "i128",
        "isize",
        "Uuid",
    ];
    match ty {
        Type::Reference(reference) => may_hold_secret(&reference.elem, open),
        Type::Paren(paren) => may_hold_secret(&paren.elem, open),
        Type::Group(group) => may_hold_secret(&group.elem, open),
        Type::Slice(slice) => may_hold_secret(&slice.elem, open),
        Type::Array(array) => may_hold_secret(&array.elem, open),
        Type::Tuple(tuple) => tuple.elems.iter().any(|elem| may_hold_secret(elem, open)),
        Type::Ptr(_) | Type::BareFn(_) | Type::Never(_) => false,
        Type::Path(path) => {
            let (Some(first), Some(last)) = (path.path.segments.first(), path.path.segments.last())
            else {
                return true;
            };
            let name = strip_raw(&last.ident);
            // `T`, and `T::Secret` or `S::Password`: whatever the caller
            // or the implementation picks.
            let is_open = path.path.leading_colon.is_none() && open.contains(&first.ident);
            if path.qself.is_some() || is_open {
                return true;
            }
            if CONTAINERS.contains(&name.as_str()) {
                let mut inner = match &last.arguments {
                    PathArguments::AngleBracketed(arguments) => arguments
                        .args
                        .iter()
                        .filter_map(|argument| match argument {
                            GenericArgument::Type(inner) => Some(inner),
                            _ => None,
                        })
                        .peekable(),
                    _ => return true,
                };
                // A container whose arguments are not written (`Vec` in a
                // macro, an alias) may hold anything.
                return inner.peek().is_none() || inner.any(|inner| may_hold_secret(inner, open));
            }
            HOLDERS.contains(&name.as_str()) || name.starts_with("Secret")
        }
        // `impl Trait`, `dyn Trait`, `_` and types made by macros.
        _ => true,
    }
}

/// Words that, anywhere in a value, say it is derived from a secret rather
/// than the secret itself: `token.len()`, `password_hash`, `passwordHash`,
/// `redacted_token`, `hash(&token)`. Only whole words of an identifier
/// count: `account` holds `count`, `challenge` holds `len` and `unmasked`
/// holds `mask` without being any of them.
const MASK_WORDS: [&str; 13] = [
    "redact",
    "redacted",
    "mask",
    "masked",
    "hash",
    "hashed",
    "digest",
    "fingerprint",
    "len",
    "length",
    "count",
    "present",
    "presence",
];

/// Presence checks: names of their own, whose words (`is`, `some`) say
/// nothing.
const MASK_NAMES: [&str; 3] = ["is_some", "is_none", "is_empty"];

/// Whether a value is a constant written in the source, or visibly not the
/// raw secret: a length, a count, a hash, a redaction, a presence check.
fn is_masked(expr: Option<&Expr>) -> bool {
    struct MaskScan {
        masked: bool,
    }
    impl<'ast> Visit<'ast> for MaskScan {
        fn visit_ident(&mut self, ident: &'ast Ident) {
            // Split before lower-casing, to keep the camelCase humps.
            let name = strip_raw(ident);
            self.masked |= MASK_NAMES.contains(&name.to_ascii_lowercase().as_str())
                || identifier_words(&name)
                    .iter()
                    .any(|word| MASK_WORDS.contains(&word.as_str()));
        }
    }
    let Some(expr) = expr else {
        return false;
    };
    if is_named_constant(expr) {
        return true;
    }
    let mut scan = MaskScan { masked: false };
    scan.visit_expr(expr);
    scan.masked
}

/// The attributes `meta` stands for: itself, or, for
/// `#[cfg_attr(predicate, attributes…)]`, the attributes it applies when
/// its predicate holds (at any depth), which are checked as if they were
/// written out: optional tracing (`cfg_attr(feature = "tracing",
/// instrument)`) is common in libraries.
fn unfold_cfg_attr(meta: &Meta, metas: &mut Vec<Meta>) {
    let Meta::List(list) = meta else {
        metas.push(meta.clone());
        return;
    };
    if !list.path.is_ident("cfg_attr") {
        metas.push(meta.clone());
        return;
    }
    let Ok(nested) =
        list.parse_args_with(syn::punctuated::Punctuated::<Meta, syn::Token![,]>::parse_terminated)
    else {
        return;
    };
    for applied in nested.iter().skip(1) {
        unfold_cfg_attr(applied, metas);
    }
}

/// Macros that expand to a value fixed when the program is compiled.
const COMPILE_TIME_MACROS: [&str; 9] = [
    "column",
    "concat",
    "env",
    "file",
    "include_str",
    "line",
    "module_path",
    "option_env",
    "stringify",
];

/// Whether a value is the same on every call: a literal (`5`, `-1`,
/// `"<redacted>"`), a `SCREAMING_CASE` constant, a path to an enum
/// variant or an associated constant (`AuthScheme::Bearer`,
/// `header::AUTHORIZATION`), or a macro fixed at compile time
/// (`env!("CARGO_PKG_VERSION")`). It cannot make a message differ between calls
/// (OLB001); whether it can hold a secret is [`is_named_constant`]'s call.
fn is_constant(expr: &Expr) -> bool {
    match expr {
        Expr::Lit(_) => true,
        Expr::Macro(mac) => mac
            .mac
            .path
            .segments
            .last()
            .is_some_and(|last| COMPILE_TIME_MACROS.contains(&strip_raw(&last.ident).as_str())),
        Expr::Unary(unary) if matches!(unary.op, UnOp::Neg(_)) => is_constant(&unary.expr),
        Expr::Paren(paren) => is_constant(&paren.expr),
        Expr::Group(group) => is_constant(&group.expr),
        Expr::Path(path) => {
            let segments = &path.path.segments;
            segments.last().is_some_and(|last| {
                let name = strip_raw(&last.ident);
                is_screaming_case(&name) || (segments.len() > 1 && is_camel_case(&name))
            })
        }
        _ => false,
    }
}

/// Whether a value is a constant that names a header, a cookie or a scheme
/// rather than holding a credential (OLB005): a literal, or a path of more
/// than one segment to an enum variant or an associated or module constant
/// (`AuthScheme::Bearer`, `header::AUTHORIZATION`). A lone `SCREAMING_CASE`
/// name is not enough: it may be a `static API_KEY: LazyLock<String>` read
/// from the environment at run time.
fn is_named_constant(expr: &Expr) -> bool {
    match expr {
        Expr::Path(path) => path.path.segments.len() > 1 && is_constant(expr),
        Expr::Unary(unary) if matches!(unary.op, UnOp::Neg(_)) => is_named_constant(&unary.expr),
        Expr::Paren(paren) => is_named_constant(&paren.expr),
        Expr::Group(group) => is_named_constant(&group.expr),
        Expr::Lit(_) => true,
        _ => false,
    }
}

/// `MAX_RETRIES`, `AUTHORIZATION`: no lower-case letter, and at least one
/// upper-case one.
fn is_screaming_case(name: &str) -> bool {
    name.chars().any(|c| c.is_ascii_uppercase())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// `Bearer`, `AuthScheme`: an upper-case first letter and a lower-case one
/// after it.
fn is_camel_case(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_uppercase()) && name.chars().any(|c| c.is_lowercase())
}

/// Whether a field carries an error: its key names one, it uses `log`'s
/// `:err` capture, or its value is cast to `&dyn Error`.
fn is_error_field(field: &Field) -> bool {
    let key_names_error = match &field.key {
        Key::Literal { text, .. } => {
            words(text).any(|word| matches!(word.as_str(), "error" | "err" | "exception"))
        }
        Key::Computed { .. } => false,
    };
    let value_is_error = match &field.value {
        ValueSource::Expr(expr) => match expr.as_ref() {
            Expr::Cast(cast) => names_error_type(&cast.ty),
            _ => false,
        },
        ValueSource::Shorthand(_) | ValueSource::Declared => false,
    };
    key_names_error || value_is_error || field.capture == Capture::Error
}

/// Whether a type is `Error`, `dyn Error` or a reference to one of them.
fn names_error_type(ty: &Type) -> bool {
    match ty {
        Type::Reference(reference) => names_error_type(&reference.elem),
        Type::Paren(paren) => names_error_type(&paren.elem),
        Type::Path(path) => path
            .path
            .segments
            .last()
            .is_some_and(|s| s.ident == "Error"),
        Type::TraitObject(object) => object.bounds.iter().any(|bound| {
            matches!(bound, TypeParamBound::Trait(trait_bound)
                if trait_bound.path.segments.last().is_some_and(|s| s.ident == "Error"))
        }),
        _ => false,
    }
}

/// A field that records `value` under `key`, in the syntax of `flavor`.
///
/// A `log` key is a single token, an identifier or a string literal, and
/// only an identifier key can stand for its value: `user.name` is written
/// `"user.name":% = user.name`.
fn field_fix(flavor: Flavor, key: &str, value: &str, capture: Capture) -> String {
    let sigil = if capture == Capture::Debug { '?' } else { '%' };
    let written = written_key(flavor, key);
    match flavor {
        Flavor::Tracing if written == value => format!("{sigil}{value}"),
        Flavor::Tracing => format!("{written} = {sigil}{value}"),
        Flavor::Log if written == value => format!("{written}:{sigil}"),
        Flavor::Log => format!("{written}:{sigil} = {value}"),
    }
}

/// A key as a fix writes it: bare where the macro takes it so (dotted
/// identifiers in `tracing`, one identifier in `log`), else as a string
/// literal; a key the source computes (`{ KEY }`) or quotes stays as the
/// source writes it.
fn written_key(flavor: Flavor, key: &str) -> String {
    let bare = match flavor {
        Flavor::Tracing => key.split('.').all(is_identifier),
        Flavor::Log => is_identifier(key),
    };
    if bare || key.starts_with(['{', '"']) {
        key.to_owned()
    } else {
        format!("{key:?}")
    }
}

fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

/// A key for an interpolated value: its own text when it is a variable or a
/// field path, otherwise the name of what it reads.
fn suggested_field_name(value: &Value<'_>, text: &str) -> String {
    if text.split('.').all(is_identifier) {
        return text.to_owned();
    }
    value.leaf().unwrap_or_else(|| "value".to_owned())
}

/// What a help says of the values formatted into a message that the call
/// records as fields already: the message need not repeat them.
fn repeated_note(repeated: &[(Range, String, String)]) -> Option<String> {
    let quoted = |part: fn(&(Range, String, String)) -> &String| {
        repeated
            .iter()
            .map(|entry| format!("`{}`", part(entry)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match repeated {
        [] => None,
        [(_, text, key)] => Some(format!(
            "`{text}` is recorded as the field `{key}` already, so leave it out of the message"
        )),
        _ => Some(format!(
            "{} are recorded as the fields {} already, so leave them out of the message",
            quoted(|(_, text, _)| text),
            quoted(|(_, _, key)| key)
        )),
    }
}

/// A key for an interpolated value that is not among the keys `taken` by
/// the message's earlier values: its suggested key, else the words of its
/// text (`done_len` for `done.len()`), numbered if even that is taken. The
/// same key twice would make the suggested fix an error of its own
/// (OLB012). `numbered` keeps the next number to try for each such base,
/// so that many values with one base do not each count up from 2.
fn unique_field_name(
    value: &Value<'_>,
    text: &str,
    taken: &HashSet<String>,
    numbered: &mut HashMap<String, usize>,
) -> String {
    let name = suggested_field_name(value, text);
    if !taken.contains(&name) {
        return name;
    }
    let words: Vec<String> = text
        .split(|c: char| !(c == '_' || c.is_alphanumeric()))
        .filter(|word| !word.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let joined = words.join("_");
    let base = if is_identifier(&joined) {
        joined
    } else {
        "value".to_owned()
    };
    if !taken.contains(&base) {
        return base;
    }
    let next = numbered.entry(base.clone()).or_insert(2);
    loop {
        let candidate = format!("{base}_{next}");
        *next += 1;
        if !taken.contains(&candidate) {
            return candidate;
        }
    }
}

/// How to record the error named `name`, written `error` in the source,
/// as an error rather than as a string.
fn error_fix(flavor: Flavor, key: &str, name: &str, error: &str) -> String {
    let key = if key == "value" || key == name || key == error {
        "error"
    } else {
        key
    };
    // The cast and the `err` capture take a type that implements `Error`;
    // the boxed and dynamic errors do not, but dereference to one.
    let boxed = "for a `Box<dyn Error>`, `anyhow::Error` or `eyre::Report`, which do not implement `Error` themselves";
    let key = written_key(flavor, key);
    // `res.err()` is an `Option`, which is no error: the cast does not
    // compile on it.
    if let Some(result) = error.strip_suffix(".err()") {
        let result = [".as_ref()", ".as_mut()"]
            .iter()
            .find_map(|view| result.strip_suffix(view))
            .unwrap_or(result);
        return match flavor {
            Flavor::Tracing => format!(
                "`{error}` is an `Option`, not an error: record the error itself, `{key} = {result}.as_ref().err().map(|e| e as &dyn std::error::Error)` (no field when there is none), or `{key} = e as &dyn std::error::Error` inside `if let Err(e) = &{result}`; either keeps its type, message and source chain ({boxed}: `|e| &**e as &dyn std::error::Error`, `{key} = &**e as &dyn std::error::Error`)"
            ),
            Flavor::Log => format!(
                "`{error}` is an `Option`, not an error: record the error itself with the `err` capture inside `if let Err(e) = &{result}`: `{key}:err = *e;` keeps its type, message and source chain ({boxed}: `{key}:err = **e;`)"
            ),
        };
    }
    match flavor {
        Flavor::Tracing => format!(
            "record the error itself: `{key} = &{error} as &dyn std::error::Error` keeps its type, message and source chain ({boxed}: `{key} = &*{error} as &dyn std::error::Error`)"
        ),
        // The capture takes the error as `&(dyn Error + 'static)`: a
        // reference to one must be dereferenced, or its own lifetime would
        // have to be `'static`.
        Flavor::Log => format!(
            "record the error itself with the `err` capture: `{key}:err = {error};` keeps its type, message and source chain (for a reference to an error, and {boxed}: `{key}:err = *{error};`)"
        ),
    }
}

/// How to record the parts of the value named `name`, written `value` in
/// the source, that a reader needs.
fn dump_fix(name: &str, value: &str) -> String {
    let lower = name.to_ascii_lowercase();
    let last = words(&lower).last().unwrap_or_default();
    let example = match last.as_str() {
        "self" => "`id = %self.id`".to_owned(),
        "req" | "request" => {
            format!("`http.request.method = %{value}.method(), url.path = %{value}.uri().path()`")
        }
        "resp" | "response" => format!("`http.response.status_code = {value}.status().as_u16()`"),
        "headers" | "headermap" | "map" => format!("`user_agent = ?{value}.get(\"user-agent\")`"),
        _ => format!("`{lower}.timeout_ms = {value}.timeout.as_millis()`"),
    };
    format!("record only the parts you need, each as its own field, e.g. {example}")
}

fn plural(count: usize, one: &str, many: &str) -> String {
    if count == 1 {
        format!("1 {one}")
    } else {
        format!("{count} {many}")
    }
}
