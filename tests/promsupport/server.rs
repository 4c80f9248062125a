//! The accept loop the long-running helpers share (the exporter, the
//! counting proxy, the e2e stand-in Prometheus): one request per connection,
//! handed to the helper's handler, until the server is dropped.

use std::io::BufReader;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use super::http::{guard, read_request, Request};

/// A server on 127.0.0.1; dropping it stops its thread and waits for it.
pub struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Binds a free port and serves at most `max_connections` connections:
    /// each gets [`guard`]'s timeouts, and its request is handed to `handle`
    /// with the stream to answer on. A connection whose request cannot be
    /// read is dropped unanswered.
    pub fn start<F>(max_connections: usize, handle: F) -> Server
    where
        F: FnMut(Request, &mut TcpStream) + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = thread::spawn(move || serve(listener, max_connections, &stopping, handle));
        Server {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocked accept so the thread sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(
    listener: TcpListener,
    max_connections: usize,
    stop: &AtomicBool,
    mut handle: impl FnMut(Request, &mut TcpStream),
) {
    for _ in 0..max_connections {
        let Ok((stream, _)) = listener.accept() else {
            return;
        };
        if stop.load(Ordering::SeqCst) {
            return;
        }
        guard(&stream);
        let Ok(mut writer) = stream.try_clone() else {
            continue;
        };
        let Some(request) = read_request(&mut BufReader::new(stream)) else {
            continue;
        };
        handle(request, &mut writer);
    }
}
