//! A ring-backed `jsonwebtoken` CryptoProvider that verifies RS256 and nothing else.
//!
//! jsonwebtoken 11 has no backend compiled in (its `rust_crypto` backend pulls in the `rsa`
//! crate, RUSTSEC-2023-0071). This module must not sign, must not panic, and must refuse every
//! algorithm other than RS256 with an error, so a forged `alg` can never reach a weaker check.

use std::sync::Once;

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{new_error, ErrorKind, Result};
use jsonwebtoken::jwk::{EllipticCurve, ThumbprintHash};
use jsonwebtoken::signature::{Error as SignatureError, Verifier};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind, EncodingKey};
use ring::signature::{RsaPublicKeyComponents, RSA_PKCS1_2048_8192_SHA256};

/// The provider: RS256 verification from JWKS (n, e) components; everything else refused.
pub static RING_PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: no_signer,
    verifier_factory: new_verifier,
    // Only Jwk::from_encoding_key and Jwk::thumbprint call these; we use neither, and if
    // anything ever does, it gets an error rather than the crate's default panic.
    key_utils: KeyUtils {
        rsa_pub_components_from_private_key: |_| Err(unsupported()),
        rsa_pub_components_from_public_key: |_| Err(unsupported()),
        ec_pub_components_from_private_key: |_: &[u8],
                                             _: Algorithm|
         -> Result<(EllipticCurve, Vec<u8>, Vec<u8>)> {
            Err(unsupported())
        },
        ed_pub_components_from_private_key: |_: &[u8], _: &EllipticCurve| Err(unsupported()),
        compute_digest: |_: &[u8], _: ThumbprintHash| Err(unsupported()),
    },
};

/// Installs [`RING_PROVIDER`] as jsonwebtoken's process default (idempotent).
///
/// Must run before the first `jsonwebtoken::decode`: the crate otherwise latches a provider
/// that panics. `Authenticator::new` calls it.
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if RING_PROVIDER.install_default().is_err() {
            log::error!("another jsonwebtoken CryptoProvider was installed first; RS256 checks may not use ring");
        }
    });
}

fn unsupported() -> jsonwebtoken::errors::Error {
    new_error(ErrorKind::Provider(
        "not supported by bedrock-mcp's RS256-only ring provider".into(),
    ))
}

fn no_signer(_: &Algorithm, _: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    Err(unsupported())
}

fn new_verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    if *algorithm != Algorithm::RS256 {
        return Err(new_error(ErrorKind::UnsupportedAlgorithm));
    }
    match (key.family(), key.kind()) {
        (AlgorithmFamily::Rsa, DecodingKeyKind::RsaModulusExponent { n, e }) => {
            Ok(Box::new(Rs256Verifier {
                n: n.clone(),
                e: e.clone(),
            }))
        }
        _ => Err(new_error(ErrorKind::InvalidKeyFormat)),
    }
}

/// RSASSA-PKCS1-v1_5 with SHA-256 over a 2048–8192-bit modulus.
struct Rs256Verifier {
    n: Vec<u8>,
    e: Vec<u8>,
}

impl Verifier<Vec<u8>> for Rs256Verifier {
    fn verify(&self, msg: &[u8], signature: &Vec<u8>) -> std::result::Result<(), SignatureError> {
        let key = RsaPublicKeyComponents {
            n: &self.n,
            e: &self.e,
        };
        key.verify(&RSA_PKCS1_2048_8192_SHA256, msg, signature)
            .map_err(|_| SignatureError::new())
    }
}

impl JwtVerifier for Rs256Verifier {
    fn algorithm(&self) -> Algorithm {
        Algorithm::RS256
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_everything_but_rs256_without_panicking() {
        let rsa = DecodingKey::from_rsa_raw_components(&[1; 256], &[1, 0, 1]);
        let hmac = DecodingKey::from_secret(b"secret");
        for alg in [
            Algorithm::HS256,
            Algorithm::RS384,
            Algorithm::PS256,
            Algorithm::ES256,
            Algorithm::EdDSA,
        ] {
            assert!(new_verifier(&alg, &rsa).is_err(), "{alg:?}");
        }
        assert!(new_verifier(&Algorithm::RS256, &hmac).is_err());
        assert!(new_verifier(&Algorithm::RS256, &DecodingKey::from_rsa_der(b"der")).is_err());
        assert!(new_verifier(&Algorithm::RS256, &rsa).is_ok());
        assert!(no_signer(&Algorithm::RS256, &EncodingKey::from_secret(b"k")).is_err());
        assert!((RING_PROVIDER.key_utils.compute_digest)(b"x", ThumbprintHash::SHA256).is_err());
        assert!((RING_PROVIDER.key_utils.rsa_pub_components_from_public_key)(b"x").is_err());
    }

    #[test]
    fn bad_signature_is_an_error() {
        let verifier = new_verifier(
            &Algorithm::RS256,
            &DecodingKey::from_rsa_raw_components(&[0xc5; 256], &[1, 0, 1]),
        )
        .unwrap();
        assert!(verifier.verify(b"msg", &vec![0; 256]).is_err());
    }
}
