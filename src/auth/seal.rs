//! Keys derived from the Entra client secret: sealed refresh tokens and the client secrets of
//! dynamically registered clients, both checkable without server state.
//!
//! When the server adds ENTRA_CLIENT_SECRET at `/token`, Entra's refresh token would be
//! redeemable through the proxy by anyone holding it. Instead the client gets an envelope
//! (ChaCha20-Poly1305) holding Entra's refresh token, the client id it was issued to and the
//! user; the proxy opens it, checks both, and hands out a new envelope. Keys come from the
//! secret by HKDF-SHA256, so every replica with the same secret agrees and nothing is stored;
//! rotating the secret invalidates the envelopes (users sign in again once). Must never log or
//! return the key, the secret or an opened refresh token.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::hkdf::{Salt, HKDF_SHA256};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

use crate::config::AuthSettings;

/// What a sealed refresh token starts with, so the proxy can tell it from Entra's own.
pub const SEALED_PREFIX: &str = "bmcp-rt1.";
/// HKDF salt: names this format, so keys for other uses of the secret never collide.
const SALT: &[u8] = b"bedrock-mcp/oauth-proxy/v1";
/// Sealed tokens longer than this are not ours (Entra's refresh tokens are a few KiB).
const MAX_SEALED_CHARS: usize = 32 * 1024;

/// The keys for one Entra app and secret.
pub struct Keys {
    aead: LessSafeKey,
    dcr: hmac::Key,
    /// Binds envelopes to this tenant and app: another deployment's envelopes never open here.
    context: Vec<u8>,
}

// Key material must never be printed.
impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(<redacted>)")
    }
}

/// Who a refresh token belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    /// The client id the client presented at `/token` (a metadata-document URL, a registered
    /// id, or the Entra app's id).
    #[serde(rename = "c")]
    pub client_id: String,
    /// The user: `tid/oid` of the access token Entra issued with it (`sub` without them).
    #[serde(rename = "u")]
    pub user: String,
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    #[serde(flatten)]
    binding: Binding,
    /// Entra's refresh token.
    #[serde(rename = "t")]
    refresh_token: String,
}

/// One HKDF output length, for `expand`.
struct Len(usize);

impl ring::hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// The keys for the configured app, when the server holds its secret (`Ok(None)`: a public
/// client app, no secret anywhere). The error names the fault, never the secret.
pub fn for_settings(settings: &AuthSettings) -> Result<Option<Keys>, String> {
    let Some(secret) = &settings.client_secret else {
        return Ok(None);
    };
    let value = super::secret::reveal(secret)?;
    Keys::derive(&value, &settings.tenant_id, &settings.client_id).map(Some)
}

impl Keys {
    /// Derives the keys from the Entra client secret of app `client_id` in `tenant_id`.
    pub fn derive(secret: &str, tenant_id: &str, client_id: &str) -> Result<Keys, String> {
        let failed = |_| "deriving the OAuth proxy keys failed".to_string();
        let prk = Salt::new(HKDF_SHA256, SALT).extract(secret.as_bytes());
        let expand = |info: &[u8], len: usize| -> Result<Vec<u8>, String> {
            let mut out = vec![0u8; len];
            prk.expand(&[info], Len(len))
                .and_then(|okm| okm.fill(&mut out))
                .map_err(failed)?;
            Ok(out)
        };
        let aead_bytes = expand(b"refresh-token-envelope", CHACHA20_POLY1305.key_len())?;
        let aead =
            LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, &aead_bytes).map_err(failed)?);
        let dcr = hmac::Key::new(hmac::HMAC_SHA256, &expand(b"registered-client-secret", 32)?);
        Ok(Keys {
            aead,
            dcr,
            context: format!("{tenant_id}/{client_id}").into_bytes(),
        })
    }

    /// Seals Entra's refresh token for this client and user.
    pub fn seal(&self, binding: &Binding, refresh_token: &str) -> Result<String, String> {
        let envelope = Envelope {
            binding: binding.clone(),
            refresh_token: refresh_token.to_string(),
        };
        let mut buf = serde_json::to_vec(&envelope).map_err(|e| e.to_string())?;
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| "the system random number generator failed".to_string())?;
        self.aead
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&self.context),
                &mut buf,
            )
            .map_err(|_| "sealing failed".to_string())?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Ok(format!("{SEALED_PREFIX}{}", URL_SAFE_NO_PAD.encode(out)))
    }

    /// Opens an envelope made by [`Keys::seal`] with the same keys; `None` for anything else
    /// (another secret, another app, a changed byte, Entra's own refresh token).
    pub fn open(&self, sealed: &str) -> Option<(Binding, String)> {
        if sealed.len() > MAX_SEALED_CHARS {
            return None;
        }
        let raw = URL_SAFE_NO_PAD
            .decode(sealed.strip_prefix(SEALED_PREFIX)?)
            .ok()?;
        if raw.len() < NONCE_LEN {
            return None;
        }
        let (nonce, rest) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buf = rest.to_vec();
        let plain = self
            .aead
            .open_in_place(nonce, Aad::from(&self.context), &mut buf)
            .ok()?;
        let envelope: Envelope = serde_json::from_slice(plain).ok()?;
        Some((envelope.binding, envelope.refresh_token))
    }

    /// The client secret of a dynamically registered client id (RFC 7591 `client_secret`).
    pub fn client_secret(&self, client_id: &str) -> String {
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.dcr, client_id.as_bytes()).as_ref())
    }

    /// Checks a presented client secret in constant time.
    pub fn verify_client_secret(&self, client_id: &str, presented: &str) -> bool {
        URL_SAFE_NO_PAD
            .decode(presented)
            .is_ok_and(|tag| hmac::verify(&self.dcr, client_id.as_bytes(), &tag).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "11111111-2222-3333-4444-555555555555";
    const C: &str = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";

    fn binding(client: &str) -> Binding {
        Binding {
            client_id: client.into(),
            user: format!("{T}/oid-1"),
        }
    }

    #[test]
    fn envelopes_open_only_with_the_same_secret_and_app() {
        let keys = Keys::derive("secret-one", T, C).unwrap();
        let sealed = keys
            .seal(&binding("https://a.example/cimd"), "entra-rt-value")
            .unwrap();
        assert!(sealed.starts_with(SEALED_PREFIX));
        assert!(!sealed.contains("entra-rt-value"));
        // Same secret on another replica: same keys.
        let replica = Keys::derive("secret-one", T, C).unwrap();
        assert_eq!(
            replica.open(&sealed),
            Some((
                binding("https://a.example/cimd"),
                "entra-rt-value".to_string()
            ))
        );
        // Fresh nonce each time.
        assert_ne!(
            sealed,
            keys.seal(&binding("https://a.example/cimd"), "entra-rt-value")
                .unwrap()
        );
        for other in [
            Keys::derive("secret-two", T, C).unwrap(),
            Keys::derive("secret-one", "99999999-2222-3333-4444-555555555555", C).unwrap(),
            Keys::derive("secret-one", T, "bbbbbbbb-bbbb-cccc-dddd-eeeeeeeeeeee").unwrap(),
        ] {
            assert_eq!(other.open(&sealed), None);
        }
        // Every flipped character is detected.
        let body = &sealed[SEALED_PREFIX.len()..];
        for i in (0..body.len()).step_by(7) {
            let mut chars: Vec<char> = body.chars().collect();
            chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
            let tampered: String = chars.into_iter().collect();
            assert_eq!(
                keys.open(&format!("{SEALED_PREFIX}{tampered}")),
                None,
                "{i}"
            );
        }
        for junk in [
            "",
            "rt-1",
            SEALED_PREFIX,
            "bmcp-rt1.AAAA",
            "bmcp-rt1.!!!",
            &"bmcp-rt1.A".repeat(5000),
        ] {
            assert_eq!(keys.open(junk), None, "{junk:.20}");
        }
        assert_eq!(format!("{keys:?}"), "Keys(<redacted>)");
    }

    #[test]
    fn registered_client_secrets_are_per_client_and_per_key() {
        let keys = Keys::derive("secret-one", T, C).unwrap();
        let a = keys.client_secret("mcp-dcr.a");
        assert!(a.len() >= 43);
        assert!(keys.verify_client_secret("mcp-dcr.a", &a));
        assert!(!keys.verify_client_secret("mcp-dcr.b", &a));
        assert!(!keys.verify_client_secret("mcp-dcr.a", &a[1..]));
        assert!(!keys.verify_client_secret("mcp-dcr.a", ""));
        assert!(!keys.verify_client_secret("mcp-dcr.a", "not base64 !"));
        assert!(!Keys::derive("secret-two", T, C)
            .unwrap()
            .verify_client_secret("mcp-dcr.a", &a));
    }
}
