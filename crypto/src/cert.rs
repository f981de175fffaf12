//! Per-session self-signed certificates for QUIC, pinned by SHA-256 fingerprint.
//!
//! Each side makes a fresh key pair for each session and sends the fingerprint of its
//! certificate over the end-to-end Noise channel. The TLS handshake inside QUIC then accepts
//! exactly that certificate (both directions: the helper is the client and authenticates
//! too). A relay or rendezvous in the middle cannot substitute its own certificate.

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use sha2::{Digest, Sha256};

/// ALPN for Tandem's QUIC session.
pub const ALPN: &[u8] = b"tandem/1";

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("certificate generation failed: {0}")]
    Generate(String),
    #[error("TLS configuration failed: {0}")]
    Tls(#[from] rustls::Error),
    #[error("fingerprint must be 64 hex digits")]
    BadFingerprint,
}

/// SHA-256 of a DER certificate.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    pub fn of(cert_der: &[u8]) -> Self {
        Self(Sha256::digest(cert_der).into())
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(s: &str) -> Result<Self, CertError> {
        let bytes = hex::decode(s).map_err(|_| CertError::BadFingerprint)?;
        let arr: [u8; 32] = bytes.try_into().map_err(|_| CertError::BadFingerprint)?;
        Ok(Self(arr))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", &self.to_hex()[..16])
    }
}

impl serde::Serialize for Fingerprint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for Fingerprint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        Fingerprint::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

/// A fresh certificate and key for one session.
pub struct SessionCertificate {
    pub cert_der: CertificateDer<'static>,
    key_der: PrivatePkcs8KeyDer<'static>,
    pub fingerprint: Fingerprint,
}

impl fmt::Debug for SessionCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionCertificate")
            .field("fingerprint", &self.fingerprint)
            .finish()
    }
}

impl Clone for SessionCertificate {
    fn clone(&self) -> Self {
        Self {
            cert_der: self.cert_der.clone(),
            key_der: self.key_der.clone_key(),
            fingerprint: self.fingerprint,
        }
    }
}

impl SessionCertificate {
    /// ECDSA P-256: fast to make (≈1 ms) and universally supported.
    pub fn generate() -> Result<Self, CertError> {
        let certified = rcgen::generate_simple_self_signed(vec!["tandem.invalid".to_string()])
            .map_err(|e| CertError::Generate(e.to_string()))?;
        let cert_der = certified.cert.der().clone();
        let key_der = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
        let fingerprint = Fingerprint::of(&cert_der);
        Ok(Self {
            cert_der,
            key_der,
            fingerprint,
        })
    }

    fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(self.key_der.clone_key())
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// TLS 1.3 client config (for QUIC) that presents `own` and accepts only `peer`.
pub fn pinned_client_config(
    own: &SessionCertificate,
    peer: Fingerprint,
) -> Result<rustls::ClientConfig, CertError> {
    let provider = provider();
    let verifier = Arc::new(PinnedVerifier::new(peer, &provider));
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(vec![own.cert_der.clone()], own.key())?;
    config.alpn_protocols = vec![ALPN.to_vec()];
    Ok(config)
}

/// TLS 1.3 server config (for QUIC) that presents `own` and requires the client to be `peer`.
pub fn pinned_server_config(
    own: &SessionCertificate,
    peer: Fingerprint,
) -> Result<rustls::ServerConfig, CertError> {
    let provider = provider();
    let verifier = Arc::new(PinnedVerifier::new(peer, &provider));
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![own.cert_der.clone()], own.key())?;
    config.alpn_protocols = vec![ALPN.to_vec()];
    Ok(config)
}

/// Accepts exactly one certificate, by fingerprint; signatures are still verified, so the
/// peer must hold the matching private key.
#[derive(Debug)]
struct PinnedVerifier {
    expected: Fingerprint,
    algorithms: WebPkiSupportedAlgorithms,
}

impl PinnedVerifier {
    fn new(expected: Fingerprint, provider: &CryptoProvider) -> Self {
        Self {
            expected,
            algorithms: provider.signature_verification_algorithms,
        }
    }

    fn check(&self, cert: &CertificateDer<'_>) -> Result<(), rustls::Error> {
        if Fingerprint::of(cert) == self.expected {
            Ok(())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.check(end_entity)
            .map(|_| ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

impl ClientCertVerifier for PinnedVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.check(end_entity)
            .map(|_| ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_roundtrips_and_rejects_garbage() {
        let cert = SessionCertificate::generate().expect("generate");
        let hex = cert.fingerprint.to_hex();
        assert_eq!(hex.len(), 64);
        assert_eq!(
            Fingerprint::from_hex(&hex).expect("parse"),
            cert.fingerprint
        );
        assert!(Fingerprint::from_hex("abcd").is_err());
        assert!(Fingerprint::from_hex(&"zz".repeat(32)).is_err());
        let other = SessionCertificate::generate().expect("generate");
        assert_ne!(cert.fingerprint, other.fingerprint);
    }

    #[test]
    fn pinned_verifier_accepts_only_the_pinned_certificate() {
        let a = SessionCertificate::generate().expect("generate");
        let b = SessionCertificate::generate().expect("generate");
        let verifier = PinnedVerifier::new(a.fingerprint, &provider());
        assert!(verifier.check(&a.cert_der).is_ok());
        assert!(verifier.check(&b.cert_der).is_err());
        assert!(pinned_client_config(&a, b.fingerprint).is_ok());
        assert!(pinned_server_config(&b, a.fingerprint).is_ok());
    }
}
