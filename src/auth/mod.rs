//! Entra ID sign-in: JWT validation against a cached JWKS, and the OAuth proxy for claude.ai.
