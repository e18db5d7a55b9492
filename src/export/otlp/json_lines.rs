//! OTLP-JSON lines (`OTEL_LOGS_EXPORTER=otlp/stdout`): one `LogsData` JSON
//! object per line, as the OTLP file exporter specification describes, so
//! the collector's `otlpjsonfile` receiver or `otlpjson` connector can read
//! it. Batches are cut like OTLP requests and written instead of sent.

use std::io::Write;

use crate::export::otlp::{write_otlp_json, Outcome, Transport};

/// Writes each request as one JSON line.
pub(crate) struct JsonLinesWriter {
    writer: Box<dyn Write + Send>,
    line: Vec<u8>,
}

impl JsonLinesWriter {
    pub(crate) fn new(writer: Box<dyn Write + Send>) -> JsonLinesWriter {
        JsonLinesWriter {
            writer,
            line: Vec::new(),
        }
    }
}

impl Transport for JsonLinesWriter {
    fn send(&mut self, request: &[u8]) -> Outcome {
        self.line.clear();
        if let Err(reason) = write_otlp_json(request, &mut self.line) {
            return Outcome::Failed { reason };
        }
        self.line.push(b'\n');
        match self
            .writer
            .write_all(&self.line)
            .and_then(|()| self.writer.flush())
        {
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
