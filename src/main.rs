//! The `bedrock-mcp` binary: everything lives in the library; see `cli.rs`.

fn main() {}
