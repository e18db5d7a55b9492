//! OTLP-JSON lines (`OTEL_LOGS_EXPORTER=otlp/stdout`): one `LogsData` JSON
//! object per line, as the OTLP file exporter specification describes, so
//! the collector's `otlpjsonfile` receiver or `otlpjson` connector can read
//! it. Batches are cut like OTLP requests and written instead of sent.

use std::io::Write;

use crate::export::otlp::{write_otlp_json, Outcome, Transport};
use crate::export::write_all_counting;

/// Writes each request as one JSON line.
pub(crate) struct JsonLinesWriter {
    writer: Box<dyn Write + Send>,
    line: Vec<u8>,
    /// Whether a failed write left the output in the middle of a line: the
    /// next line starts on a line of its own, so that the cut one does not
    /// run into it (and take it down with it, counted as written).
    mid_line: bool,
}

impl JsonLinesWriter {
    pub(crate) fn new(writer: Box<dyn Write + Send>) -> JsonLinesWriter {
        JsonLinesWriter {
            writer,
            line: Vec::new(),
            mid_line: false,
        }
    }

    fn write_line(&mut self) -> std::io::Result<()> {
        if self.mid_line {
            write_all_counting(&mut self.writer, b"\n").map_err(|(_, error)| error)?;
            self.mid_line = false;
        }
        if let Err((written, error)) = write_all_counting(&mut self.writer, &self.line) {
            self.mid_line = written > 0;
            return Err(error);
        }
        self.writer.flush()
    }
}

impl Transport for JsonLinesWriter {
    fn send(&mut self, request: &[u8]) -> Outcome {
        self.line.clear();
        if let Err(reason) = write_otlp_json(request, &mut self.line) {
            return Outcome::Failed { reason };
        }
        self.line.push(b'\n');
        match self.write_line() {
            Ok(()) => Outcome::Accepted {
                rejected: 0,
                message: String::new(),
            },
            Err(error) => Outcome::Failed {
                reason: format!("writing OTLP-JSON lines failed: {error}"),
            },
        }
    }
}
