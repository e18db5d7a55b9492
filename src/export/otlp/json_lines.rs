//! OTLP-JSON lines (`OTEL_LOGS_EXPORTER=otlp/stdout`): one `LogsData` JSON
//! object per line, as the OTLP file exporter specification describes, so
//! the collector's `otlpjsonfile` receiver or `otlpjson` connector can read
//! it. Batches are cut like OTLP requests and written instead of sent.

use std::io::Write;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use prost::Message as _;

use crate::export::otlp::{Outcome, Transport};

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
        // `LogsData` and `ExportLogsServiceRequest` have the same JSON
        // shape (`{"resourceLogs":[…]}`); opentelemetry-proto's serde types
        // implement the OTLP/JSON rules.
        let message = match ExportLogsServiceRequest::decode(request) {
            Ok(message) => message,
            Err(error) => {
                return Outcome::Failed {
                    reason: format!("internal encoding error: {error}"),
                }
            }
        };
        self.line.clear();
        if let Err(error) = serde_json::to_writer(&mut self.line, &message) {
            return Outcome::Failed {
                reason: format!("OTLP/JSON encoding failed: {error}"),
            };
        }
        self.line.push(b'\n');
        match self
            .writer
            .write_all(&self.line)
            .and_then(|()| self.writer.flush())
        {
            Ok(()) => Outcome::Accepted { rejected: 0 },
            Err(error) => Outcome::Failed {
                reason: format!("writing OTLP-JSON lines failed: {error}"),
            },
        }
    }
}
