//! AWS plumbing: SigV4 signing and the credentials chain (env → container → IMDSv2).
