//! The server's TLS identity: a local CA and a server certificate, made on first start.
//!
//! Files in the data directory: `ca.pem` (the CA certificate, to trust), `tls/server.pem`
//! (the server certificate), `tls/names.json` (the names it covers) and the private keys
//! sealed by the core under the root key (`tls/ca.key.sealed`, `tls/server.key.sealed`).
//! When the configured names change, a new server certificate is issued by the same CA.
//! Names of pools (`{pool}.localhost`, `{pool}.{domain}`) get certificates issued on demand,
//! in memory, by the same CA.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use hsm_core::Hsm;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::CertifiedKey;

/// The CA certificate's file name in the data directory.
pub const CA_FILE: &str = "ca.pem";

/// What the server needs to speak TLS.
pub struct Identity {
    /// The server's rustls configuration.
    pub config: Arc<rustls::ServerConfig>,
    /// Where the CA certificate is.
    pub ca_path: PathBuf,
}

fn ca_params() -> Result<CertificateParams> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "mhsm local CA");
    dn.push(DnType::OrganizationName, "mhsm");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    Ok(params)
}

/// The names a server certificate covers: loopback, `localhost`, `*.localhost`, and each
/// configured domain with its wildcard.
pub fn names(domains: &[String]) -> Vec<String> {
    let mut out = vec![
        "127.0.0.1".to_string(),
        "::1".to_string(),
        "localhost".to_string(),
        "*.localhost".to_string(),
    ];
    for d in domains {
        out.push(d.clone());
        out.push(format!("*.{d}"));
    }
    out.dedup();
    out
}

fn san(name: &str) -> Result<SanType> {
    Ok(match name.parse::<std::net::IpAddr>() {
        Ok(ip) => SanType::IpAddress(ip),
        Err(_) => SanType::DnsName(name.try_into()?),
    })
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

fn read_sealed_key(hsm: &Hsm, path: &Path, purpose: &str) -> Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(sealed) => {
            let der = hsm
                .open_secret(purpose, &sealed)
                .with_context(|| format!("opening {}", path.display()))?;
            Ok(Some(der.expose_secret().to_vec()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Loads the TLS identity from `data_dir`, making what is missing.
pub fn load_or_create(hsm: &Hsm, data_dir: &Path, domains: &[String]) -> Result<Identity> {
    let tls_dir = data_dir.join("tls");
    fs::create_dir_all(&tls_dir).with_context(|| format!("creating {}", tls_dir.display()))?;
    let ca_path = data_dir.join(CA_FILE);
    let ca_key_path = tls_dir.join("ca.key.sealed");
    let server_path = tls_dir.join("server.pem");
    let server_key_path = tls_dir.join("server.key.sealed");
    let names_path = tls_dir.join("names.json");
    let wanted = names(domains);

    // The CA: made once, kept as long as its key opens and its certificate is there.
    let ca_key_der = read_sealed_key(hsm, &ca_key_path, "tls-ca-key")?;
    let (ca_key, fresh_ca) = match (ca_key_der, ca_path.exists()) {
        (Some(der), true) => (
            KeyPair::try_from(der.as_slice()).context("parsing the CA key")?,
            false,
        ),
        _ => {
            let key = KeyPair::generate()?;
            let cert = ca_params()?.self_signed(&key)?;
            write(
                &ca_key_path,
                &hsm.seal_secret("tls-ca-key", &key.serialize_der())?,
            )?;
            write(&ca_path, cert.pem().as_bytes())?;
            tracing::info!(path = %ca_path.display(), "created a local CA");
            (key, true)
        }
    };

    let current: Option<Vec<String>> = fs::read(&names_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let server_key_der = read_sealed_key(hsm, &server_key_path, "tls-server-key")?;
    let (cert_der, key_der) = match (server_key_der, fs::read_to_string(&server_path)) {
        (Some(key), Ok(pem)) if !fresh_ca && current.as_ref() == Some(&wanted) => {
            let cert = pem_to_der(&pem).context("parsing the server certificate")?;
            (cert, key)
        }
        _ => {
            let key = KeyPair::generate()?;
            let mut params = CertificateParams::new(Vec::<String>::new())?;
            params.subject_alt_names = wanted.iter().map(|n| san(n)).collect::<Result<_>>()?;
            params
                .distinguished_name
                .push(DnType::CommonName, "mhsm server");
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            let issuer = Issuer::new(ca_params()?, &ca_key);
            let cert = params.signed_by(&key, &issuer)?;
            write(&server_path, cert.pem().as_bytes())?;
            write(
                &server_key_path,
                &hsm.seal_secret("tls-server-key", &key.serialize_der())?,
            )?;
            write(&names_path, &serde_json::to_vec(&wanted)?)?;
            tracing::info!(names = ?wanted, "issued a server certificate");
            (cert.der().to_vec(), key.serialize_der())
        }
    };

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let default = Arc::new(certified(&provider, cert_der, key_der)?);
    let resolver = OnDemand {
        provider: provider.clone(),
        ca_key,
        domains: domains.to_vec(),
        default,
        issued: Mutex::new(HashMap::new()),
    };
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    // Resumption spares a reconnecting client the full handshake. Each full TLS 1.3
    // handshake leaves `send_tls13_tickets` (2) sessions in the cache, so rustls's default of
    // 256 entries covers about 128 clients; this covers a few thousand (a few hundred bytes
    // each).
    config.session_storage = rustls::server::ServerSessionMemoryCache::new(SESSION_CACHE);
    Ok(Identity {
        config: Arc::new(config),
        ca_path,
    })
}

fn certified(
    provider: &rustls::crypto::CryptoProvider,
    cert_der: Vec<u8>,
    key_der: Vec<u8>,
) -> Result<CertifiedKey> {
    let key = provider
        .key_provider
        .load_private_key(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_der)))?;
    Ok(CertifiedKey::new(vec![CertificateDer::from(cert_der)], key))
}

/// TLS sessions kept for resumption.
const SESSION_CACHE: usize = 4096;

/// How many per-name certificates are kept.
const MAX_ISSUED: usize = 1024;

/// Answers each TLS handshake with a certificate for the name asked for (SNI): a pool's name
/// such as `team-a.localhost` gets its own certificate, issued by the local CA on first use,
/// because clients refuse a `*.localhost` wildcard (one label under the wildcard). Other
/// names get the default certificate.
struct OnDemand {
    provider: Arc<rustls::crypto::CryptoProvider>,
    ca_key: KeyPair,
    domains: Vec<String>,
    default: Arc<CertifiedKey>,
    issued: Mutex<HashMap<String, Arc<CertifiedKey>>>,
}

impl std::fmt::Debug for OnDemand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnDemand")
            .field("domains", &self.domains)
            .finish()
    }
}

impl OnDemand {
    /// Whether `name` is `{pool}.localhost` or `{pool}.{domain}` with a plausible pool label.
    fn serves(&self, name: &str) -> bool {
        let Some((label, rest)) = name.split_once('.') else {
            return false;
        };
        let pool_like = (3..=24).contains(&label.len())
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        pool_like
            && (rest == "localhost" || self.domains.iter().any(|d| d.eq_ignore_ascii_case(rest)))
    }

    fn issue(&self, name: &str) -> Result<CertifiedKey> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(vec![name.to_string()])?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let issuer = Issuer::new(ca_params()?, &self.ca_key);
        let cert = params.signed_by(&key, &issuer)?;
        certified(&self.provider, cert.der().to_vec(), key.serialize_der())
    }
}

impl rustls::server::ResolvesServerCert for OnDemand {
    fn resolve(&self, hello: rustls::server::ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let Some(name) = hello.server_name().map(str::to_ascii_lowercase) else {
            return Some(self.default.clone());
        };
        if !self.serves(&name) {
            return Some(self.default.clone());
        }
        let mut issued = self.issued.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = issued.get(&name) {
            return Some(c.clone());
        }
        match self.issue(&name) {
            Ok(c) => {
                if issued.len() >= MAX_ISSUED {
                    issued.clear();
                }
                let c = Arc::new(c);
                issued.insert(name, c.clone());
                Some(c)
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot issue a certificate");
                Some(self.default.clone())
            }
        }
    }
}

fn pem_to_der(pem: &str) -> Result<Vec<u8>> {
    use base64::Engine;
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    Ok(base64::engine::general_purpose::STANDARD.decode(body)?)
}
