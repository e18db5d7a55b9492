//! A counting OTLP/HTTP receiver in a child process, for the bench binaries:
//! the records it counts are not built, and the CPU it uses is not the
//! bench process's.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::logs::SdkLoggerProvider;

use crate::receiver::Receiver;

/// The receiver process (this binary started with `--receiver`).
pub struct RemoteReceiver {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
    /// The OTLP/HTTP logs endpoint, `/v1/logs` included.
    pub endpoint: String,
}

impl RemoteReceiver {
    /// Starts the receiver; `low_priority` runs it under `nice -n 19`
    /// (when `nice` is there), so that on a machine with few cores it takes
    /// them only when the measured thread does not need them.
    pub fn start(low_priority: bool) -> RemoteReceiver {
        let exe = std::env::current_exe().expect("bench binary");
        let nice = low_priority
            && Command::new("nice")
                .arg("true")
                .status()
                .is_ok_and(|status| status.success());
        let mut command = if nice {
            let mut command = Command::new("nice");
            command.args(["-n", "19"]).arg(exe);
            command
        } else {
            Command::new(exe)
        };
        let mut child = command
            .arg("--receiver")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("receiver process");
        let input = child.stdin.take().expect("piped stdin");
        let mut output = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut endpoint = String::new();
        output.read_line(&mut endpoint).expect("endpoint line");
        RemoteReceiver {
            child,
            input,
            output,
            endpoint: format!("{}/v1/logs", endpoint.trim()),
        }
    }

    /// How many records it received so far.
    #[allow(dead_code)]
    pub fn record_count(&mut self) -> u64 {
        writeln!(self.input, "count").expect("ask the receiver");
        let mut line = String::new();
        self.output.read_line(&mut line).expect("count line");
        line.trim().parse().expect("a count")
    }
}

impl Drop for RemoteReceiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The official pipeline at its defaults: `BatchLogProcessor` and the
/// OTLP/HTTP exporter, sending to `endpoint`.
pub fn official_otlp_provider(endpoint: &str) -> SdkLoggerProvider {
    let exporter = opentelemetry_otlp::LogExporter::builder()
        .with_http()
        .with_endpoint(endpoint)
        .build()
        .expect("exporter");
    SdkLoggerProvider::builder()
        .with_batch_exporter(exporter)
        .build()
}

/// The child's side: serves until its stdin closes, answering each line
/// with the number of records received so far.
pub fn serve_receiver() {
    let receiver = Receiver::http_counting();
    println!("{}", receiver.endpoint());
    for line in std::io::stdin().lock().lines() {
        if line.is_err() {
            break;
        }
        println!("{}", receiver.record_count());
    }
}
