//! OTLP-JSON lines (`OTEL_LOGS_EXPORTER=otlp/stdout`): one `LogsData` JSON
//! object per line, as the OTLP file exporter specification describes, so
//! the collector's `otlpjsonfile` receiver or `otlpjson` connector can read
//! it. Batches are cut like OTLP requests and written instead of sent, in
//! lines of at most [`LINE_LIMIT`].

use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::logs::v1::{ResourceLogs, ScopeLogs};

use crate::export::failure::FailureCause;
use crate::export::otlp::{decode_for_json, write_json_message, Outcome, Transport};
use crate::export::{flush_waiting, write_all_counting, Output};

/// How long an output that would block may make no progress before a
/// request's lines are given up (see [`JsonLinesWriter::write_line`]).
const STALLED_OUTPUT: Duration = Duration::from_secs(10);

/// The longest line written, its newline included, unless a single record
/// is longer: the collector's file readers (`otlpjsonfile`, `filelog`) cut
/// a longer line into pieces by default (`max_log_size`), and the pieces
/// of a `LogsData` line are not JSON, so every record in it would be lost.
pub(crate) const LINE_LIMIT: usize = 1024 * 1024;

/// The size of an encoded request a batch is cut before: its JSON form is
/// about five times larger for records of short fields, so that most
/// batches make one line and few are split.
const REQUEST_TARGET: usize = LINE_LIMIT / 8;

/// Writes each request as one JSON line.
pub(crate) struct JsonLinesWriter {
    output: Output,
    line: Vec<u8>,
    /// Where each line of `line` ends, and how many records it holds.
    line_ends: Vec<LineEnd>,
    /// Whether a failed write left the output in the middle of a line: the
    /// next line starts on a line of its own, so that the cut one does not
    /// run into it (and take it down with it, counted as written).
    mid_line: bool,
}

impl JsonLinesWriter {
    pub(crate) fn new(output: Output) -> JsonLinesWriter {
        JsonLinesWriter {
            output,
            line: Vec::new(),
            line_ends: Vec::new(),
            mid_line: false,
        }
    }

    /// Writes `self.line`, which holds one or more whole lines. A failure
    /// says how many of its bytes were written.
    fn write_line(&mut self) -> Result<(), (usize, std::io::Error)> {
        // An output that would block is waited for while it makes
        // progress, and given up once it has made none for as long as the
        // OTLP timeout's default bounds a request: the transport has no
        // shutdown deadline to go by.
        let stalled = |since: Duration| since >= STALLED_OUTPUT;
        let line = &self.line;
        let mid_line = &mut self.mid_line;
        self.output.locked(|writer| {
            if *mid_line {
                write_all_counting(writer, b"\n", &stalled).map_err(|(_, error)| (0, error))?;
                *mid_line = false;
            }
            if let Err((written, error)) = write_all_counting(writer, line, &stalled) {
                // A write that stopped right after a newline left no line
                // open.
                *mid_line = written > 0 && line.get(written - 1) != Some(&b'\n');
                return Err((written, error));
            }
            // A flush that fails leaves unknown what got through: none of
            // it counts as written.
            flush_waiting(writer, &stalled).map_err(|error| (0, error))
        })
    }

    /// How many records the lines within the first `written` bytes hold.
    fn records_within(&self, written: usize) -> u64 {
        self.line_ends
            .iter()
            .take_while(|line| line.end <= written)
            .map(|line| line.records)
            .sum()
    }
}

/// The end of one line in a request's lines, and how many records it holds.
struct LineEnd {
    end: usize,
    records: u64,
}

impl Transport for JsonLinesWriter {
    fn request_target(&self) -> usize {
        REQUEST_TARGET
    }

    fn sends_requests(&self) -> bool {
        false
    }

    fn send(&mut self, request: &[u8]) -> Outcome {
        self.line.clear();
        self.line_ends.clear();
        let written = decode_for_json(request).and_then(|message| {
            write_lines(message, LINE_LIMIT, &mut self.line, &mut self.line_ends)
        });
        if let Err(reason) = written {
            return Outcome::Failed {
                reason,
                about_endpoint: false,
                cause: FailureCause::INTERNAL_ERROR,
            };
        }
        // The lines of one request are written at once; when that fails,
        // the records of the lines written whole count as exported.
        let written = self.write_line();
        // The room a huge request's lines took is not kept for the rest of
        // the process; lines of the usual size keep their buffer.
        self.line.clear();
        self.line.shrink_to(LINE_LIMIT);
        match written {
            Ok(()) => Outcome::Accepted {
                rejected: 0,
                message: String::new(),
            },
            Err((written, error)) => {
                let reason = format!("writing OTLP-JSON lines failed: {error}");
                let cause = FailureCause::of_io(&error);
                match self.records_within(written) {
                    0 => Outcome::Failed {
                        reason,
                        about_endpoint: true,
                        cause,
                    },
                    written => Outcome::PartlyWritten {
                        written,
                        reason,
                        cause,
                    },
                }
            }
        }
    }
}

/// Appends `message` to `out` as lines of `LogsData` of at most `limit`
/// bytes each, newline included: as one line when it fits, else its records
/// split in two halves, each written the same way. A record alone longer
/// than `limit` makes a line of its own. Each line's end and record count
/// go to `ends`.
fn write_lines(
    message: ExportLogsServiceRequest,
    limit: usize,
    out: &mut Vec<u8>,
    ends: &mut Vec<LineEnd>,
) -> Result<(), String> {
    let start = out.len();
    write_json_message(&message, out)?;
    out.push(b'\n');
    let records = record_count(&message);
    if out.len() - start <= limit || records < 2 {
        ends.push(LineEnd {
            end: out.len(),
            records: records as u64,
        });
        return Ok(());
    }
    out.truncate(start);
    let (front, back) = halves(message);
    write_lines(front, limit, out, ends)?;
    write_lines(back, limit, out, ends)
}

fn record_count(message: &ExportLogsServiceRequest) -> usize {
    message
        .resource_logs
        .iter()
        .flat_map(|resource| &resource.scope_logs)
        .map(|scope| scope.log_records.len())
        .sum()
}

/// Splits a request into two with half its records each (the first half
/// in the first), each record under its own resource and scope, in order.
fn halves(
    message: ExportLogsServiceRequest,
) -> (ExportLogsServiceRequest, ExportLogsServiceRequest) {
    let mut front_left = record_count(&message) / 2;
    let mut front = ExportLogsServiceRequest::default();
    let mut back = ExportLogsServiceRequest::default();
    for mut resource_logs in message.resource_logs {
        let mut front_scopes = Vec::new();
        let mut back_scopes = Vec::new();
        for mut scope_logs in std::mem::take(&mut resource_logs.scope_logs) {
            let mut records = std::mem::take(&mut scope_logs.log_records);
            let back_records = records.split_off(front_left.min(records.len()));
            front_left -= records.len();
            if !records.is_empty() {
                front_scopes.push(ScopeLogs {
                    log_records: records,
                    ..scope_logs.clone()
                });
            }
            if !back_records.is_empty() {
                back_scopes.push(ScopeLogs {
                    log_records: back_records,
                    ..scope_logs
                });
            }
        }
        if !front_scopes.is_empty() {
            front.resource_logs.push(ResourceLogs {
                scope_logs: front_scopes,
                ..resource_logs.clone()
            });
        }
        if !back_scopes.is_empty() {
            back.resource_logs.push(ResourceLogs {
                scope_logs: back_scopes,
                ..resource_logs
            });
        }
    }
    (front, back)
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope};
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, LogsData};
    use opentelemetry_proto::tonic::resource::v1::Resource;

    use super::*;

    fn record(body: &str) -> LogRecord {
        LogRecord {
            body: Some(AnyValue {
                value: Some(any_value::Value::StringValue(body.to_owned())),
            }),
            ..LogRecord::default()
        }
    }

    fn scope(name: &str, bodies: &[&str]) -> ScopeLogs {
        ScopeLogs {
            scope: Some(InstrumentationScope {
                name: name.to_owned(),
                ..InstrumentationScope::default()
            }),
            log_records: bodies.iter().map(|body| record(body)).collect(),
            ..ScopeLogs::default()
        }
    }

    /// Each record as (resource's dropped count, scope name, body), in order.
    fn flatten(data: &LogsData) -> Vec<(u32, String, String)> {
        let mut records = Vec::new();
        for resource in &data.resource_logs {
            let tag = resource
                .resource
                .as_ref()
                .map_or(0, |r| r.dropped_attributes_count);
            for scope in &resource.scope_logs {
                let name = scope
                    .scope
                    .as_ref()
                    .map(|s| s.name.clone())
                    .unwrap_or_default();
                for record in &scope.log_records {
                    let body = format!("{:?}", record.body);
                    records.push((tag, name.clone(), body));
                }
            }
        }
        records
    }

    /// A request too long for one line is split between records, each
    /// part keeping its records' resource and scope, in order; a record
    /// longer than a line alone is written whole on a line of its own.
    #[test]
    fn a_request_over_the_line_limit_is_split_between_records() {
        let resource = |tag: u32, scopes: Vec<ScopeLogs>| ResourceLogs {
            resource: Some(Resource {
                dropped_attributes_count: tag,
                ..Resource::default()
            }),
            scope_logs: scopes,
            ..ResourceLogs::default()
        };
        let long = "l".repeat(300);
        let message = ExportLogsServiceRequest {
            resource_logs: vec![
                resource(
                    1,
                    vec![scope("a", &["a1", "a2", "a3"]), scope("b", &["b1"])],
                ),
                resource(2, vec![scope("c", &["c1", &long, "c3", "c4", "c5"])]),
            ],
        };
        let mut whole = Vec::new();
        write_lines(message.clone(), usize::MAX, &mut whole, &mut Vec::new()).expect("written");
        assert_eq!(whole.iter().filter(|&&byte| byte == b'\n').count(), 1);
        let limit = 280;
        let mut out = Vec::new();
        write_lines(message, limit, &mut out, &mut Vec::new()).expect("written");
        let text = String::from_utf8(out).expect("UTF-8");
        let mut records = Vec::new();
        for line in text.lines() {
            let data: LogsData = serde_json::from_str(line).expect("a LogsData line");
            let flat = flatten(&data);
            assert!(line.len() < limit || flat.len() == 1, "{line}");
            records.extend(flat);
        }
        let expected: LogsData = serde_json::from_slice(&whole).expect("one line");
        assert_eq!(records, flatten(&expected));
        assert!(text.lines().count() > 3, "{text}");
    }

    /// Takes `accept` bytes, fails once, then takes everything.
    struct FailsOnceAfter {
        out: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
        accept: usize,
        failed: bool,
    }

    impl std::io::Write for FailsOnceAfter {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            let mut out = self.out.lock().unwrap();
            if !self.failed && out.len() + bytes.len() > self.accept {
                let taken = self.accept - out.len();
                if taken == 0 {
                    self.failed = true;
                    return Err(std::io::Error::other("disk full"));
                }
                out.extend_from_slice(&bytes[..taken]);
                return Ok(taken);
            }
            out.extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Regression: the line buffer kept the room of the largest request
    /// ever written, for as long as the process lived.
    #[test]
    fn the_room_a_huge_request_took_is_not_kept() {
        use prost::Message as _;
        let big = "b".repeat(3 * LINE_LIMIT);
        let request = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![scope("s", &[&big])],
                ..ResourceLogs::default()
            }],
        };
        let mut writer = JsonLinesWriter::new(Output::Writer(Box::new(std::io::sink())));
        assert!(matches!(
            writer.send(&request.encode_to_vec()),
            Outcome::Accepted { .. }
        ));
        assert!(
            writer.line.capacity() <= LINE_LIMIT,
            "{}",
            writer.line.capacity()
        );
    }

    /// Regression: a request of several lines whose write failed right
    /// after a whole line was taken for one cut mid-line, and the next
    /// request began with an empty line.
    #[test]
    fn a_write_that_fails_between_lines_leaves_no_empty_line() {
        use prost::Message as _;
        let big = "b".repeat(600 * 1024);
        let request = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![scope("s", &[&big, &big])],
                ..ResourceLogs::default()
            }],
        };
        let encoded = request.encode_to_vec();
        let mut lines = Vec::new();
        write_lines(
            decode_for_json(&encoded).unwrap(),
            LINE_LIMIT,
            &mut lines,
            &mut Vec::new(),
        )
        .unwrap();
        let first_line = lines.iter().position(|&byte| byte == b'\n').unwrap() + 1;
        assert!(first_line < lines.len(), "two lines");
        let out = std::sync::Arc::default();
        let mut writer = JsonLinesWriter::new(Output::Writer(Box::new(FailsOnceAfter {
            out: std::sync::Arc::clone(&out),
            accept: first_line,
            failed: false,
        })));
        // Regression: the first line, written whole, was counted as failed
        // with the rest of its request.
        assert!(matches!(
            writer.send(&encoded),
            Outcome::PartlyWritten { written: 1, .. }
        ));
        assert!(matches!(writer.send(&encoded), Outcome::Accepted { .. }));
        let text = String::from_utf8(out.lock().unwrap().clone()).unwrap();
        assert!(!text.contains("\n\n"), "an empty line");
        assert_eq!(text.lines().count(), 3);
    }
}
