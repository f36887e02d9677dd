//! Hostile and broken clients against the real binary, over raw sockets. Each test checks
//! that the server answers (or closes) as specified, stays healthy for legitimate clients,
//! and keeps its threads, memory and descriptors bounded: the request-head limits and the
//! connection caps, request deadlines and strict framing of our patched tiny_http
//! (vendor/tiny_http/FORK.md), and the auth check and memory budget before bodies.

mod bodies;
mod connections;
mod deadlines;
mod forwarded;
mod framing;
mod gate;
mod heads;
mod memory;
mod owner;
mod raw;
mod secrets;
mod slow;
mod sse_writes;
