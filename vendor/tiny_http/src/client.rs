use ascii::AsciiString;

use std::io::Error as IoError;
use std::io::Result as IoResult;
use std::io::{BufReader, BufWriter, ErrorKind, Read, Write};

use std::net::SocketAddr;
use std::str::FromStr;

use crate::common::{HTTPVersion, Header, Method};
use crate::framing;
use crate::limits::{BodySource, ReadDeadline, ResponseSink};
use crate::util::RefinedTcpStream;
use crate::util::{SequentialReader, SequentialReaderBuilder, SequentialWriterBuilder};
use crate::Request;
use std::time::Duration;

/// A ClientConnection is an object that will store a socket to a client
/// and return Request objects.
pub struct ClientConnection {
    // address of the client
    remote_addr: IoResult<Option<SocketAddr>>,

    // sequence of Readers to the stream, so that the data is not read in
    //  the wrong order
    source: SequentialReaderBuilder<BufReader<RefinedTcpStream>>,

    // sequence of Writers to the stream, to avoid writing response #2 before
    //  response #1
    sink: SequentialWriterBuilder<BufWriter<RefinedTcpStream>>,

    // Reader to read the next header from
    next_header_source: SequentialReader<BufReader<RefinedTcpStream>>,

    // set to true if we know that the previous request is the last one
    no_more_requests: bool,

    // true if the connection goes through SSL
    secure: bool,

    // bedrock-mcp patch: the bounds, the request head being read, and the deadline of the
    // current request (head and body) or of the idle wait before the next
    limits: crate::Limits,
    head_bytes: usize,
    head_started: bool,
    read_deadline: ReadDeadline,
    request_seq: u64,
    // how long to go on waiting for a next request while our answer is still being written
    answer_wait: Duration,
}

/// Error that can happen when reading a request.
#[derive(Debug)]
enum ReadError {
    WrongRequestLine,
    WrongHeader, // bedrock-mcp patch: the version went unused once refusals announce close
    /// the client sent an unrecognized `Expect` header
    ExpectationFailed(HTTPVersion),
    ReadIoError(IoError),
    /// bedrock-mcp patch: the head outgrew `Limits::max_header_bytes` or `header_timeout`
    HeadTooLarge,
    HeadTimeout,
    /// bedrock-mcp patch: framing a proxy could read differently (framing.rs); the reason
    BadFraming(&'static str),
    /// bedrock-mcp patch: no request began before the deadline (idle keep-alive, or silence)
    Idle,
}

impl From<IoError> for ReadError {
    fn from(e: IoError) -> ReadError {
        ReadError::ReadIoError(e)
    }
}

impl ClientConnection {
    /// Creates a new `ClientConnection` that takes ownership of the `TcpStream`.
    /// bedrock-mcp patch: `limits` are the server's (its own, or the process-wide ones).
    pub fn new(
        write_socket: RefinedTcpStream,
        mut read_socket: RefinedTcpStream,
        limits: crate::Limits,
    ) -> ClientConnection {
        let remote_addr = read_socket.peer_addr();
        let secure = read_socket.secure();
        let read_deadline = ReadDeadline::default();
        read_socket.keep_to(&read_deadline);
        let answer_wait = read_socket
            .read_timeout()
            .unwrap_or(Duration::from_secs(30));

        let mut source = SequentialReaderBuilder::new(BufReader::with_capacity(1024, read_socket));
        let first_header = source.next().unwrap();

        let mut conn = ClientConnection {
            source,
            sink: SequentialWriterBuilder::new(BufWriter::with_capacity(1024, write_socket)),
            remote_addr,
            next_header_source: first_header,
            no_more_requests: false,
            secure,
            limits,
            head_bytes: 0,
            head_started: false,
            read_deadline,
            request_seq: 0,
            answer_wait,
        };
        conn.start_head_clock();
        conn
    }

    /// bedrock-mcp patch: the request's time starts, at accept or at its head's first byte;
    /// it runs on through the read-ahead and the body (until `BodySource` lets go).
    fn start_head_clock(&mut self) {
        self.request_seq = self
            .read_deadline
            .start_request(self.limits.request_timeout);
        self.head_started = true;
    }

    /// bedrock-mcp patch: the head is in; the next one starts a new count and a new clock.
    fn end_head(&mut self) {
        (self.head_bytes, self.head_started) = (0, false);
    }

    /// bedrock-mcp patch: answers `code` with `Connection: close`; the caller closes.
    fn refuse(&mut self, code: u16, why: &str) -> Option<Request> {
        let mut writer = self.sink.next().unwrap();
        let _ = writer.write_all(&crate::limits::closing_response(code, why));
        let _ = writer.flush();
        None
    }

    /// true if the connection is HTTPS
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// Reads the next line from self.next_header_source.
    ///
    /// Reads until `CRLF` is reached. The next read will start
    ///  at the first byte of the new line.
    fn read_next_line(&mut self) -> Result<AsciiString, ReadError> {
        let mut buf = Vec::new();
        let mut prev_byte_was_cr = false;

        loop {
            let byte = self.next_header_source.by_ref().bytes().next();

            let byte = match byte {
                // bedrock-mcp patch: a read timeout mid-head is a slow client (WouldBlock on
                // Unix); before the first byte, a wait that may go on (our answer is still
                // being written) or an idle connection
                Some(Err(e)) if is_timeout(&e) && self.head_bytes > 0 => {
                    return Err(ReadError::HeadTimeout)
                }
                Some(Err(e)) if is_timeout(&e) => {
                    let idle = self.limits.keepalive_idle;
                    if self.read_deadline.keep_waiting(idle, self.answer_wait) {
                        continue;
                    }
                    return Err(ReadError::Idle);
                }
                Some(b) => b?,
                None => {
                    return Err(IoError::new(ErrorKind::ConnectionAborted, "Unexpected EOF").into())
                }
            };

            // bedrock-mcp patch: never buffer more than the limit; time later heads from byte 1
            self.head_bytes += 1;
            if self.head_bytes > self.limits.max_header_bytes {
                return Err(ReadError::HeadTooLarge);
            }
            if !self.head_started {
                self.start_head_clock();
            }

            // bedrock-mcp patch: a bare CR or LF is not a line end here, nor anything else
            if (byte == b'\n') != prev_byte_was_cr {
                return Err(ReadError::BadFraming("bare CR or LF in the request head"));
            }
            if byte == b'\n' && prev_byte_was_cr {
                buf.pop(); // removing the '\r'
                return AsciiString::from_ascii(buf).map_err(|_| {
                    IoError::new(ErrorKind::InvalidInput, "Header is not in ASCII").into()
                });
            }

            prev_byte_was_cr = byte == b'\r';

            buf.push(byte);
        }
    }

    /// Reads a request from the stream.
    /// Blocks until the header has been read.
    fn read(&mut self) -> Result<Request, ReadError> {
        let (method, path, version, headers) = {
            // reading the request line
            let (method, path, version) = {
                let line = self.read_next_line()?;
                // bedrock-mcp patch: strict framing (framing.rs), here and below
                framing::check_line(line.as_bytes(), false).map_err(ReadError::BadFraming)?;

                parse_request_line(
                    line.as_str().trim(), // TODO: remove this conversion
                )?
            };

            // getting all headers
            let headers = {
                let mut headers = Vec::new();
                loop {
                    let line = self.read_next_line()?;

                    if line.is_empty() {
                        break;
                    };
                    framing::check_line(line.as_bytes(), true).map_err(ReadError::BadFraming)?;
                    headers.push(match FromStr::from_str(line.as_str().trim()) {
                        // TODO: remove this conversion
                        Ok(h) => h,
                        _ => return Err(ReadError::WrongHeader),
                    });
                }

                headers
            };
            framing::check_headers(&version, &headers).map_err(ReadError::BadFraming)?;
            self.end_head();

            (method, path, version, headers)
        };

        // building the writer for the request
        let writer = self.sink.next().unwrap();
        // bedrock-mcp patch: kept so the request can hand out a `SocketCloser`
        let socket = writer.shared();
        // bedrock-mcp patch: when the answer is out, the idle wait begins
        let writer = ResponseSink {
            inner: writer,
            deadline: self.read_deadline.clone(),
            seq: self.request_seq,
            idle: self.limits.keepalive_idle,
        };

        // follow-up for next potential request
        let mut data_source = self.source.next().unwrap();
        std::mem::swap(&mut self.next_header_source, &mut data_source);
        // bedrock-mcp patch: when the request lets go of its body, its deadline ends
        let data_source = BodySource {
            inner: data_source,
            deadline: self.read_deadline.clone(),
            seq: self.request_seq,
            idle: self.limits.keepalive_idle,
        };

        // building the next reader
        let request = crate::request::new_request(
            self.secure,
            method,
            path,
            version.clone(),
            headers,
            *self.remote_addr.as_ref().unwrap(),
            data_source,
            writer,
        )
        .map_err(|e| {
            use crate::request;
            match e {
                request::RequestCreationError::CreationIoError(e) => ReadError::ReadIoError(e),
                request::RequestCreationError::ExpectationFailed => {
                    ReadError::ExpectationFailed(version)
                }
            }
        })?;

        // return the request
        Ok(request.with_socket(socket))
    }
}

impl Iterator for ClientConnection {
    type Item = Request;

    /// Blocks until the next Request is available.
    /// Returns None when no new Requests will come from the client.
    fn next(&mut self) -> Option<Request> {
        use crate::{Response, StatusCode};

        // the client sent a "connection: close" header in this previous request
        //  or is using HTTP 1.0, meaning that no new request will come
        if self.no_more_requests {
            return None;
        }

        loop {
            let rq = match self.read() {
                // bedrock-mcp patch: each refusal says why, announces the close, and closes
                // (we don't know where the next request would start)
                Err(ReadError::WrongRequestLine) => {
                    return self.refuse(400, "malformed request line; send METHOD /path HTTP/1.1")
                }
                Err(ReadError::WrongHeader) => {
                    return self.refuse(400, "malformed header line; send Name: value")
                }
                Err(ReadError::BadFraming(why)) => return self.refuse(400, why),
                Err(ReadError::ReadIoError(ref err)) if is_timeout(err) => {
                    return self.refuse(408, "request too slow; send it within the time limit")
                }
                Err(ReadError::Idle) => return None,

                Err(ReadError::ExpectationFailed(ver)) => {
                    let writer = self.sink.next().unwrap();
                    let response = Response::new_empty(StatusCode(417));
                    response.raw_print(writer, ver, &[], true, None).ok();
                    return None; // TODO: should be recoverable, but needs handling in case of body
                }

                Err(ReadError::ReadIoError(_)) => return None,

                // bedrock-mcp patch: a head too big or too slow is answered, then closed
                Err(ReadError::HeadTooLarge) => {
                    return self
                        .refuse(431, "request head too large; send fewer or smaller headers")
                }
                Err(ReadError::HeadTimeout) => {
                    return self.refuse(408, "request head too slow; send it within the time limit")
                }

                Ok(rq) => rq,
            };

            // checking HTTP version
            if *rq.http_version() > (1, 1) {
                // bedrock-mcp patch: upstream wrote on the next writer, which waits for `rq`'s
                // own, so the thread hung forever; answer on rq's writer, then close (what
                // follows an HTTP/2 preface is not HTTP/1)
                let mut writer = rq.into_writer();
                let why = "only HTTP/1.0 and HTTP/1.1 are served";
                let _ = writer.write_all(&crate::limits::closing_response(505, why));
                let _ = writer.flush();
                return None;
            }

            // updating the status of the connection
            let connection_header = rq
                .headers()
                .iter()
                .find(|h| h.field.equiv("Connection"))
                .map(|h| h.value.as_str());

            let lowercase = connection_header.map(|h| h.to_ascii_lowercase());

            match lowercase {
                Some(ref val) if val.contains("close") => self.no_more_requests = true,
                Some(ref val) if val.contains("upgrade") => self.no_more_requests = true,
                Some(ref val)
                    if !val.contains("keep-alive") && *rq.http_version() == HTTPVersion(1, 0) =>
                {
                    self.no_more_requests = true
                }
                None if *rq.http_version() == HTTPVersion(1, 0) => self.no_more_requests = true,
                _ => (),
            };

            // bedrock-mcp patch: a body the handler may leave unread (chunked, or too big to be
            // read ahead) ends the connection, lest its rest be parsed as a request (smuggling)
            let unbuffered =
                |h: &Header| h.field.equiv("Transfer-Encoding") || h.field.equiv("Expect");
            if rq.headers().iter().any(unbuffered) || rq.body_length().map_or(false, |n| n > 1024) {
                self.no_more_requests = true;
            }

            // returning the request
            return Some(rq);
        }
    }
}

/// bedrock-mcp patch: SO_RCVTIMEO expiry reads as WouldBlock on Unix; the head timer's as TimedOut.
fn is_timeout(e: &IoError) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// Parses a "HTTP/1.1" string.
fn parse_http_version(version: &str) -> Result<HTTPVersion, ReadError> {
    let (major, minor) = match version {
        "HTTP/0.9" => (0, 9),
        "HTTP/1.0" => (1, 0),
        "HTTP/1.1" => (1, 1),
        "HTTP/2.0" => (2, 0),
        "HTTP/3.0" => (3, 0),
        _ => return Err(ReadError::WrongRequestLine),
    };

    Ok(HTTPVersion(major, minor))
}

/// Parses the request line of the request.
/// eg. GET / HTTP/1.1
fn parse_request_line(line: &str) -> Result<(Method, String, HTTPVersion), ReadError> {
    let mut parts = line.split(' ');

    let method = parts.next().and_then(|w| w.parse().ok());
    let path = parts.next().map(ToOwned::to_owned);
    let version = parts.next().and_then(|w| parse_http_version(w).ok());

    method
        .and_then(|method| Some((method, path?, version?)))
        .ok_or(ReadError::WrongRequestLine)
}

#[cfg(test)]
mod test {
    #[test]
    fn test_parse_request_line() {
        let (method, path, ver) = super::parse_request_line("GET /hello HTTP/1.1").unwrap();

        assert!(method == crate::Method::Get);
        assert!(path == "/hello");
        assert!(ver == crate::common::HTTPVersion(1, 1));

        assert!(super::parse_request_line("GET /hello").is_err());
        assert!(super::parse_request_line("qsd qsd qsd").is_err());
    }
}
