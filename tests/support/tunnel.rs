//! An HTTP proxy that answers `CONNECT` requests with a tunnel to one
//! address, whatever host they name, and keeps the names they gave: a
//! client's requests for a collector whose name does not resolve reach the
//! test receiver through it, and the names show that they went through the
//! proxy.

use std::io::{self, Read as _, Write as _};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

pub struct Tunnel {
    address: SocketAddr,
    targets: Arc<Mutex<Vec<String>>>,
}

impl Tunnel {
    /// A proxy on a free loopback port whose tunnels all lead to
    /// `destination`.
    pub fn to(destination: SocketAddr) -> Tunnel {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("a free port");
        let address = listener.local_addr().expect("the proxy's address");
        let targets = Arc::<Mutex<Vec<String>>>::default();
        let kept = Arc::clone(&targets);
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let kept = Arc::clone(&kept);
                thread::spawn(move || {
                    // A connection that breaks off ends its tunnel only.
                    let _ = tunnel(client, destination, &kept);
                });
            }
        });
        Tunnel { address, targets }
    }

    /// The proxy's URL, as the proxy variables take it.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The `host:port` of each `CONNECT` request so far.
    pub fn targets(&self) -> Vec<String> {
        self.targets.lock().unwrap().clone()
    }
}

fn tunnel(
    mut client: TcpStream,
    destination: SocketAddr,
    targets: &Mutex<Vec<String>>,
) -> io::Result<()> {
    // The request's head, a byte at a time up to its blank line: what
    // follows it belongs to the tunnel.
    let mut head = Vec::new();
    let mut byte = [0];
    while !head.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte)? == 0 {
            return Ok(());
        }
        head.extend_from_slice(&byte);
    }
    let head = String::from_utf8_lossy(&head);
    let target = head
        .strip_prefix("CONNECT ")
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_default();
    targets.lock().unwrap().push(target.to_owned());
    let mut server = TcpStream::connect(destination)?;
    client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
    let (mut from_client, mut to_server) = (client.try_clone()?, server.try_clone()?);
    let upstream = thread::spawn(move || {
        let _ = io::copy(&mut from_client, &mut to_server);
        let _ = to_server.shutdown(Shutdown::Write);
    });
    let _ = io::copy(&mut server, &mut client);
    let _ = client.shutdown(Shutdown::Write);
    let _ = upstream.join();
    Ok(())
}
