//! The lab's self-signed certificate and TLS acceptor.

use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

use crate::Result;

/// Names the certificate is valid for.
pub(crate) const CERT_NAMES: &[&str] = &["localhost", "127.0.0.1", "::1"];

pub(crate) struct Identity {
    pub(crate) cert_pem: String,
    pub(crate) cert_der: Vec<u8>,
    pub(crate) acceptor: TlsAcceptor,
}

impl Identity {
    /// A fresh self-signed certificate for [`CERT_NAMES`] and a TLS acceptor using it.
    pub(crate) fn generate() -> Result<Self> {
        let names: Vec<String> = CERT_NAMES.iter().map(|n| (*n).to_owned()).collect();
        let certified = rcgen::generate_simple_self_signed(names)?;
        let cert_der: CertificateDer<'static> = certified.cert.der().clone();
        let key =
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));

        // Name the provider explicitly: if another crate in the build enables a second
        // rustls provider, the process-wide default would be ambiguous.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(vec![cert_der.clone()], key)?;

        Ok(Self {
            cert_pem: certified.cert.pem(),
            cert_der: cert_der.to_vec(),
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }
}
