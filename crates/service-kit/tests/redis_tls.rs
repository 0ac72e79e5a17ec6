//! `rediss://` against a real Redis that speaks only TLS, as Azure Cache for Redis does on 6380:
//! Debian's redis-server 7 with `--port 0 --tls-port`, its certificate from a CA made here. The
//! test fails, never skips, when redis-server is missing.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use service_kit::redis::Reconnecting;

const TIMEOUT: Duration = Duration::from_secs(2);

/// A CA, and a certificate for 127.0.0.1 that it signed, written as PEM files.
struct Certificates {
    ca: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
}

fn make_certificates(dir: &Path) -> Certificates {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "usactar test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server_cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&server_key, &ca)
        .unwrap();
    let certificates = Certificates {
        ca: dir.join("ca.pem"),
        server_cert: dir.join("server.pem"),
        server_key: dir.join("server-key.pem"),
    };
    std::fs::write(&certificates.ca, ca.pem()).unwrap();
    std::fs::write(&certificates.server_cert, server_cert.pem()).unwrap();
    std::fs::write(&certificates.server_key, server_key.serialize_pem()).unwrap();
    certificates
}

/// redis-server, killed when dropped.
struct TlsRedis {
    child: Child,
    port: u16,
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// On PATH (nix develop), else where Debian's package puts it (scripts/setup installs it).
fn redis_server() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("redis-server"))
            .find(|candidate| candidate.is_file())
    });
    let program = on_path.unwrap_or_else(|| PathBuf::from("/usr/bin/redis-server"));
    assert!(
        program.is_file(),
        "redis-server is not on PATH nor at /usr/bin/redis-server: run scripts/setup (Debian) \
         or enter `nix develop`"
    );
    program
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Only the TLS port listens (`--port 0`); clients need no certificate of their own.
fn start_tls_redis(dir: &Path, certificates: &Certificates) -> TlsRedis {
    let port = free_port();
    let child = Command::new(redis_server())
        .args([
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .arg("--tls-port")
        .arg(port.to_string())
        .arg("--tls-cert-file")
        .arg(&certificates.server_cert)
        .arg("--tls-key-file")
        .arg(&certificates.server_key)
        .arg("--tls-ca-cert-file")
        .arg(&certificates.ca)
        .args(["--tls-auth-clients", "no"])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start redis-server");
    TlsRedis { child, port }
}

/// PING through `redis` until it answers, for at most 10 s (redis-server starts in well under 1 s).
async fn wait_until_answers(redis: &Reconnecting, server: &mut TlsRedis) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let error = match redis.ping().await {
            Ok(()) => return,
            Err(error) => error,
        };
        if let Some(status) = server.child.try_wait().unwrap() {
            panic!("redis-server exited ({status}) before answering over TLS");
        }
        assert!(
            Instant::now() < deadline,
            "no PING answer over TLS within 10 s: {error}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn rediss_with_the_ca_file_sets_and_gets_and_plain_redis_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let certificates = make_certificates(dir.path());
    let mut server = start_tls_redis(dir.path(), &certificates);
    let port = server.port;

    let tls_url = format!("rediss://127.0.0.1:{port}");
    let redis = Reconnecting::open(&tls_url, Some(&certificates.ca), TIMEOUT).unwrap();
    wait_until_answers(&redis, &mut server).await;
    redis
        .run(|mut c| async move {
            redis::cmd("SET")
                .arg("usactar:tls")
                .arg("over tls")
                .query_async::<()>(&mut c)
                .await
        })
        .await
        .unwrap();
    let value: String = redis
        .run(|mut c| async move {
            redis::cmd("GET")
                .arg("usactar:tls")
                .query_async(&mut c)
                .await
        })
        .await
        .unwrap();
    assert_eq!(value, "over tls");

    // Without the CA file the built-in public roots do not trust this server: the certificate
    // is checked, not merely encrypted against.
    let untrusted = Reconnecting::open(&tls_url, None, TIMEOUT).unwrap();
    let error = untrusted.ping().await.unwrap_err().to_string();
    eprintln!("rediss:// without the CA file: {error}");
    assert!(
        error.contains("UnknownIssuer") || error.to_lowercase().contains("unknown issuer"),
        "expected an unknown-issuer error, got: {error}"
    );

    // Plain text to the TLS port: a prompt failure that says what is wrong, never a hang.
    let plain = Reconnecting::open(&format!("redis://127.0.0.1:{port}"), None, TIMEOUT).unwrap();
    let started = Instant::now();
    let error = plain.ping().await.unwrap_err().to_string();
    eprintln!(
        "redis:// to the TLS port, after {:?}: {error}",
        started.elapsed()
    );
    assert!(started.elapsed() < TIMEOUT + Duration::from_secs(1));
    assert!(
        error.contains("rediss://"),
        "expected a hint to use rediss://, got: {error}"
    );
}

#[test]
fn a_ca_file_that_is_missing_or_not_pem_or_with_plain_redis_is_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let error = Reconnecting::open("rediss://127.0.0.1:6380", Some(&missing), TIMEOUT)
        .err()
        .expect("a missing CA file is an error")
        .to_string();
    assert!(error.contains("cannot read the Redis CA file") && error.contains("missing.pem"));

    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "not a certificate").unwrap();
    let error = Reconnecting::open("rediss://127.0.0.1:6380", Some(&not_pem), TIMEOUT)
        .err()
        .expect("a CA file without a certificate is an error")
        .to_string();
    assert!(error.contains("no PEM certificate"), "{error}");

    let certificates = make_certificates(dir.path());
    let error = Reconnecting::open("redis://127.0.0.1:6379", Some(&certificates.ca), TIMEOUT)
        .err()
        .expect("a CA file with a plain URL is an error")
        .to_string();
    assert!(error.contains("rediss://"), "{error}");
}
