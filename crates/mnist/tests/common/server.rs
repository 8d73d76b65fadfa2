//! A tiny HTTP/1.1 server on 127.0.0.1 for the download tests: one request per connection,
//! a bounded number of connections, and every answer the tests need (good, short, silent).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// How the server answers.
pub enum Reply {
    /// `GET /NAME` gets the bytes stored for NAME, anything else a 404.
    Files(HashMap<String, Vec<u8>>),
    /// Announces more bytes than it sends, then closes: a connection lost mid-file.
    Short(Vec<u8>),
    /// Accepts and reads the request, then says nothing for a few seconds.
    Silent,
}

pub struct Server {
    /// `http://127.0.0.1:PORT/`
    pub base: String,
    /// Connections accepted so far.
    pub hits: Arc<AtomicUsize>,
}

impl Server {
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

pub fn serve(reply: Reply) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    let reply = Arc::new(reply);
    thread::spawn(move || {
        // Bounded: no test makes more than a handful of requests.
        for stream in listener.incoming().take(32).flatten() {
            counter.fetch_add(1, Ordering::SeqCst);
            let reply = Arc::clone(&reply);
            thread::spawn(move || answer(stream, &reply));
        }
    });
    Server { base, hits }
}

/// A URL on which nothing listens: connecting is refused at once, like an offline mirror.
pub fn refused_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/")
}

fn answer(stream: TcpStream, reply: &Reply) {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    // Skip the headers up to the blank line.
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
        line.clear();
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .trim_start_matches('/')
        .to_owned();
    let mut stream = reader.into_inner();
    let head = |status: &str, len: usize| {
        format!("HTTP/1.1 {status}\r\nContent-Length: {len}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n")
    };
    let _ = match reply {
        Reply::Files(files) => match files.get(&path) {
            Some(body) => stream
                .write_all(head("200 OK", body.len()).as_bytes())
                .and_then(|()| stream.write_all(body)),
            None => stream.write_all(head("404 Not Found", 0).as_bytes()),
        },
        Reply::Short(body) => stream
            .write_all(head("200 OK", body.len() + 1000).as_bytes())
            .and_then(|()| stream.write_all(body)),
        Reply::Silent => {
            thread::sleep(Duration::from_secs(4));
            Ok(())
        }
    };
}
