//! The `bedrock-mcp` binary: everything lives in the library; see `cli.rs`.

fn main() -> std::process::ExitCode {
    bedrock_mcp::cli::run(std::env::args().skip(1).collect())
}
