//! One HTTPS connection pool to the server, and the rules of trying again.
//!
//! Blocking `ureq` on the calling thread: no runtime, no background thread, which matters in
//! a library loaded into foreign processes. A 429 is retried after its `Retry-After` while
//! the total wait stays within the budget; after a connection failure or a timeout only
//! requests that cannot apply a change twice are sent once more. Outages are logged once.

use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use hsm_core::{Error, Result, SecretBytes};
use parking_lot::Mutex;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::RemoteSettings;

/// The api-version of every request.
pub(super) const API_VERSION: &str = "7.5";
/// The longest single wait after a 429, whatever `Retry-After` says.
const MAX_WAIT: Duration = Duration::from_secs(2);
/// The shortest wait after a 429, so that `Retry-After: 0` still uses up the budget.
const MIN_WAIT: Duration = Duration::from_millis(100);
/// The largest answer read (a key list page, a document list).
const MAX_ANSWER: u64 = 16 << 20;

/// Where the bearer token comes from.
pub enum TokenSource {
    /// No token (the server answers 401).
    None,
    /// A fixed token.
    Value(String),
    /// A file holding the token, re-read when its modification time changes.
    File(PathBuf),
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenSource::None => f.write_str("None"),
            TokenSource::Value(_) => f.write_str("Value([REDACTED])"),
            TokenSource::File(p) => f.debug_tuple("File").field(p).finish(),
        }
    }
}

/// The bearer token, with the last reading of a token file.
struct Token {
    source: TokenSource,
    file: Mutex<Option<(SystemTime, String)>>,
}

impl Token {
    /// The `Authorization` header value, if there is a token.
    fn header(&self) -> Result<Option<String>> {
        match &self.source {
            TokenSource::None => Ok(None),
            TokenSource::Value(t) => Ok(Some(format!("Bearer {t}"))),
            TokenSource::File(path) => {
                let failed = |e: std::io::Error| Error::Unavailable {
                    message: format!("cannot read the token file {}: {e}", path.display()),
                };
                let mtime = std::fs::metadata(path)
                    .and_then(|m| m.modified())
                    .map_err(failed)?;
                let mut cached = self.file.lock();
                match &*cached {
                    Some((seen, token)) if *seen == mtime => Ok(Some(format!("Bearer {token}"))),
                    _ => {
                        let text = std::fs::read_to_string(path).map_err(failed)?;
                        let token = text.trim().to_string();
                        tracing::debug!(file = %path.display(), "read the token file");
                        let header = format!("Bearer {token}");
                        *cached = Some((mtime, token));
                        Ok(Some(header))
                    }
                }
            }
        }
    }
}

/// The parts of a base URL.
pub(super) struct Endpoint {
    /// `https` or `http`.
    pub scheme: String,
    /// The host, IPv6 literals in brackets.
    pub host: String,
    /// The port, if the URL names one.
    pub port: Option<u16>,
}

impl Endpoint {
    /// Parses `scheme://host[:port][/]`.
    pub fn parse(url: &str) -> Result<Endpoint> {
        let bad = || Error::BadParameter {
            message: format!("'{url}' is not a server URL (https://host[:port])"),
        };
        let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "https" && scheme != "http" {
            return Err(bad());
        }
        let authority = rest.trim_end_matches('/');
        if authority.is_empty() || authority.contains(['/', '?', '#', '@']) {
            return Err(bad());
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() && !p.contains(']') => {
                (h.to_string(), Some(p.parse::<u16>().map_err(|_| bad())?))
            }
            _ => (authority.to_string(), None),
        };
        Ok(Endpoint {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    /// The base URL of another host on the same scheme and port.
    pub fn with_host(&self, host: &str) -> String {
        match self.port {
            Some(p) => format!("{}://{host}:{p}", self.scheme),
            None => format!("{}://{host}", self.scheme),
        }
    }

    /// The address `localhost` names stand for: the URL's host when it is a loopback address.
    pub fn loopback(&self) -> Option<IpAddr> {
        if self.host == "localhost" {
            return Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
        }
        let bare = self.host.trim_start_matches('[').trim_end_matches(']');
        bare.parse::<IpAddr>().ok().filter(IpAddr::is_loopback)
    }
}

/// Resolves `localhost` and `*.localhost` (RFC 6761) to the server's loopback address, so
/// pools addressed as `https://{pool}.localhost:PORT` reach it whatever the system resolver
/// thinks of such names.
struct LoopbackResolver {
    loopback: Option<IpAddr>,
}

impl ureq::Resolver for LoopbackResolver {
    fn resolve(&self, netloc: &str) -> std::io::Result<Vec<SocketAddr>> {
        if let (Some(ip), Some((host, port))) = (self.loopback, netloc.rsplit_once(':')) {
            let host = host.to_ascii_lowercase();
            if (host == "localhost" || host.ends_with(".localhost"))
                && let Ok(port) = port.parse::<u16>()
            {
                return Ok(vec![SocketAddr::new(ip, port)]);
            }
        }
        netloc.to_socket_addrs().map(Iterator::collect)
    }
}

/// The TLS client configuration: the configured CA, or the public roots (a real Managed HSM).
fn tls_config(ca_pem: Option<&[u8]>) -> Result<Arc<rustls::ClientConfig>> {
    let bad = |m: String| Error::BadParameter { message: m };
    let mut roots = rustls::RootCertStore::empty();
    match ca_pem {
        Some(pem) => {
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| bad(format!("the CA file is not PEM: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| bad(format!("the CA certificate is not usable: {e}")))?;
            }
            if roots.is_empty() {
                return Err(bad("the CA file holds no certificate".into()));
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Internal {
            message: format!("TLS setup: {e}"),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Whether a request may be sent again after a connection failure or a timeout, when the
/// server may have acted on it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Replay {
    /// Reads, crypto operations and puts of a value: the same result however often.
    Safe,
    /// Creations, imports, deletions, clearing, PINs: never twice.
    Never,
}

/// One request.
pub(super) struct Request<'a> {
    /// `GET`, `PUT`, ...
    pub method: &'static str,
    /// The full URL, without the api-version (added here unless present).
    pub url: String,
    /// A JSON body.
    pub body: Option<&'a [u8]>,
    /// Whether it may be replayed.
    pub replay: Replay,
}

/// An answer that is not a 5xx nor a 429. The body may hold secrets.
pub(super) struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The body.
    pub body: SecretBytes,
}

impl Reply {
    /// 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// What went wrong with one try.
enum Failure {
    /// Nothing (or no whole answer) came back: the server may have acted.
    Transport(String),
    /// The server answered 5xx.
    Server(String),
    /// 429, with the wait it asked for.
    Throttled(Duration),
}

/// The connection pool and the outage state of one server.
pub(super) struct Transport {
    agent: ureq::Agent,
    url: String,
    token: Token,
    max_retry_wait: Duration,
    /// Set while the server is unreachable (logged once per outage).
    down: AtomicBool,
}

impl Transport {
    /// Builds the agent; sends nothing.
    pub fn new(settings: RemoteSettings, endpoint: &Endpoint) -> Result<Transport> {
        let tls = tls_config(settings.ca_pem.as_deref())?;
        let agent = ureq::AgentBuilder::new()
            .tls_config(tls)
            .resolver(LoopbackResolver {
                loopback: endpoint.loopback(),
            })
            .timeout_connect(settings.connect_timeout)
            .timeout(settings.request_timeout)
            // Never follow a redirect: it would carry the token elsewhere.
            .redirects(0)
            .user_agent(concat!("mhsm-pkcs11/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(Transport {
            agent,
            url: settings.url.trim_end_matches('/').to_string(),
            token: Token {
                source: settings.token,
                file: Mutex::new(None),
            },
            max_retry_wait: settings.max_retry_wait,
            down: AtomicBool::new(false),
        })
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sends a request, retrying as the rules allow. `Ok` for any answer but 5xx and 429.
    pub fn send(&self, req: &Request) -> Result<Reply> {
        let header = self.token.header()?;
        let mut waited = Duration::ZERO;
        let mut replayed = false;
        loop {
            match self.try_once(req, header.as_deref()) {
                Ok(reply) => {
                    if self.down.swap(false, Ordering::SeqCst) {
                        tracing::info!(url = %self.url, "mhsm server at {} is reachable again", self.url);
                    }
                    return Ok(reply);
                }
                Err(Failure::Throttled(wait)) => {
                    if waited + wait > self.max_retry_wait {
                        return Err(self.outage(format!(
                            "still throttled (429) after waiting {} ms",
                            waited.as_millis()
                        )));
                    }
                    tracing::debug!(url = %req.url, wait_ms = wait.as_millis() as u64, "throttled (429): waiting");
                    std::thread::sleep(wait);
                    waited += wait;
                }
                Err(Failure::Transport(cause)) if req.replay == Replay::Safe && !replayed => {
                    tracing::debug!(method = req.method, url = %req.url, %cause, "trying once more");
                    replayed = true;
                }
                Err(Failure::Transport(cause) | Failure::Server(cause)) => {
                    return Err(self.outage(cause));
                }
            }
        }
    }

    /// The error of an outage, logged at `error` once until a request succeeds again.
    fn outage(&self, cause: String) -> Error {
        if self.down.swap(true, Ordering::SeqCst) {
            tracing::debug!(url = %self.url, %cause, "mhsm server still unreachable");
        } else {
            tracing::error!(url = %self.url, "mhsm server at {} is unreachable: {cause}", self.url);
        }
        Error::Unavailable {
            message: format!("mhsm server at {}: {cause}", self.url),
        }
    }

    fn try_once(&self, req: &Request, header: Option<&str>) -> std::result::Result<Reply, Failure> {
        let mut r = self.agent.request(req.method, &req.url);
        if !req.url.contains("api-version=") {
            r = r.query("api-version", API_VERSION);
        }
        if let Some(h) = header {
            r = r.set("Authorization", h);
        }
        let result = match req.body {
            Some(body) => r.set("Content-Type", "application/json").send_bytes(body),
            None => r.call(),
        };
        let response = match result {
            Ok(resp) => resp,
            Err(ureq::Error::Status(429, resp)) => {
                let asked = resp
                    .header("Retry-After")
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map_or(Duration::from_secs(1), Duration::from_secs);
                return Err(Failure::Throttled(asked.clamp(MIN_WAIT, MAX_WAIT)));
            }
            Err(ureq::Error::Status(status, resp)) if status >= 500 => {
                // The Azure code only: bodies are never logged.
                let code = read(resp)
                    .map(|b| super::errors::azure_code(b.expose_secret()))
                    .unwrap_or_default();
                return Err(Failure::Server(format!("answered {status} {code}")));
            }
            Err(ureq::Error::Status(_, resp)) => resp,
            Err(ureq::Error::Transport(t)) => return Err(Failure::Transport(cause(&t))),
        };
        let status = response.status();
        let body =
            read(response).map_err(|e| Failure::Transport(format!("reading the answer: {e}")))?;
        Ok(Reply { status, body })
    }
}

fn read(response: ureq::Response) -> std::io::Result<SecretBytes> {
    let mut body = Vec::new();
    response
        .into_reader()
        .take(MAX_ANSWER)
        .read_to_end(&mut body)?;
    Ok(SecretBytes::new(body))
}

/// A transport error's cause, without the URL (the caller adds the server's).
fn cause(t: &ureq::Transport) -> String {
    let mut out = t.kind().to_string();
    if let Some(m) = t.message() {
        out.push_str(": ");
        out.push_str(m);
    }
    if let Some(source) = std::error::Error::source(t) {
        out.push_str(": ");
        out.push_str(&source.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse() {
        let e = Endpoint::parse("https://127.0.0.1:8443/").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("127.0.0.1", Some(8443)));
        assert_eq!(e.loopback(), Some("127.0.0.1".parse().unwrap()));
        assert_eq!(e.with_host("p.localhost"), "https://p.localhost:8443");
        let e = Endpoint::parse("https://[::1]:9").unwrap();
        assert_eq!(e.loopback(), Some("::1".parse().unwrap()));
        let e = Endpoint::parse("https://MyHsm.managedhsm.azure.net").unwrap();
        assert_eq!(
            (e.host.as_str(), e.port),
            ("myhsm.managedhsm.azure.net", None)
        );
        assert_eq!(e.loopback(), None);
        assert_eq!(
            Endpoint::parse("http://localhost:1").unwrap().loopback(),
            Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
        );
        for bad in [
            "",
            "127.0.0.1:8443",
            "ftp://h",
            "https://",
            "https://h/path",
            "https://h:x",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn localhost_names_resolve_to_the_servers_loopback_address() {
        use ureq::Resolver;
        let r = LoopbackResolver {
            loopback: Some("127.0.0.2".parse().unwrap()),
        };
        for name in ["team-a.localhost:99", "LOCALHOST:99", "a.b.localhost:99"] {
            assert_eq!(
                r.resolve(name).unwrap(),
                vec!["127.0.0.2:99".parse().unwrap()]
            );
        }
        assert_eq!(
            r.resolve("127.0.0.1:5").unwrap(),
            vec!["127.0.0.1:5".parse().unwrap()]
        );
    }

    #[test]
    fn a_bad_ca_file_is_refused() {
        assert!(tls_config(Some(b"not pem")).is_err());
        assert!(tls_config(None).is_ok());
    }

    #[test]
    fn token_files_are_read_again_when_they_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "one\n").unwrap();
        let token = Token {
            source: TokenSource::File(path.clone()),
            file: Mutex::new(None),
        };
        assert_eq!(token.header().unwrap().as_deref(), Some("Bearer one"));
        std::fs::write(&path, "two").unwrap();
        // A new modification time (file systems may keep whole seconds only).
        let later = SystemTime::now() + Duration::from_secs(5);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(later)
            .unwrap();
        assert_eq!(token.header().unwrap().as_deref(), Some("Bearer two"));
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(token.header(), Err(Error::Unavailable { .. })));
        assert_eq!(
            format!("{:?}", TokenSource::Value("secret".into())),
            "Value([REDACTED])"
        );
    }
}
