//! A real coturn (Debian's `turnserver`) for tests, with a test CA for its TLS port.

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};

/// A private CA and a leaf certificate for the given names / IP addresses, as PEM files in a
/// directory removed on drop.
pub struct TestCa {
    pub dir: PathBuf,
    /// Removes the directory when the CA goes.
    _temp: crate::tempdir::Dir,
    pub ca_pem: PathBuf,
    pub cert_pem: PathBuf,
    pub key_pem: PathBuf,
}

impl TestCa {
    pub fn new(names: &[&str]) -> Self {
        let temp = crate::tempdir::Dir::new("tandem-ca");
        let dir = temp.path().to_path_buf();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Tandem test CA");
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("ca key"))
            .expect("ca");
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        // rustls refuses a CA certificate as a server's own: the leaf is a plain one.
        let leaf_params = CertificateParams::new(names).expect("leaf params");
        let leaf_key = KeyPair::generate().expect("leaf key");
        let leaf = leaf_params.signed_by(&leaf_key, &ca).expect("leaf");
        let ca_pem = dir.join("ca.pem");
        let cert_pem = dir.join("cert.pem");
        let key_pem = dir.join("key.pem");
        std::fs::write(&ca_pem, ca.pem()).expect("write ca");
        std::fs::write(&cert_pem, leaf.pem()).expect("write cert");
        std::fs::write(&key_pem, leaf_key.serialize_pem()).expect("write key");
        Self {
            dir,
            _temp: temp,
            ca_pem,
            cert_pem,
            key_pem,
        }
    }

    pub fn ca_path(&self) -> String {
        self.ca_pem.to_string_lossy().into_owned()
    }
}

pub const TURN_SECRET: &str = "tandem-test-secret";

pub struct Coturn {
    child: Child,
    pub ip: String,
    pub udp_port: u16,
    pub tls_port: u16,
}

/// A port free on `ip` right now.
pub fn free_port(ip: &str) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

impl Coturn {
    /// Starts coturn on `ip` (UDP/TCP `udp_port`, TLS `tls_port`), with REST credentials
    /// from [`TURN_SECRET`]. `netns`: run it inside that network namespace.
    pub fn start(ip: &str, udp_port: u16, tls_port: u16, ca: &TestCa, netns: Option<&str>) -> Self {
        Self::start_with(ip, udp_port, tls_port, ca, netns, &[])
    }

    /// [`Self::start`] with extra `turnserver` options.
    pub fn start_with(
        ip: &str,
        udp_port: u16,
        tls_port: u16,
        ca: &TestCa,
        netns: Option<&str>,
        extra: &[&str],
    ) -> Self {
        let pidfile = ca.dir.join(format!("turn-{tls_port}.pid"));
        let mut args: Vec<String> = vec![
            "-n".into(),
            format!("--listening-ip={ip}"),
            format!("--relay-ip={ip}"),
            format!("--listening-port={udp_port}"),
            format!("--tls-listening-port={tls_port}"),
            "--use-auth-secret".into(),
            format!("--static-auth-secret={TURN_SECRET}"),
            "--realm=tandem.test".into(),
            format!("--cert={}", ca.cert_pem.display()),
            format!("--pkey={}", ca.key_pem.display()),
            "--no-cli".into(),
            "--no-dtls".into(),
            "--allow-loopback-peers".into(),
            "--no-software-attribute".into(),
            format!("--pidfile={}", pidfile.display()),
            "--log-file=stdout".into(),
            "--min-port=40000".into(),
            "--max-port=60000".into(),
        ];
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, "turnserver"]);
                c
            }
            None => Command::new("turnserver"),
        };
        if std::env::var_os("TANDEM_TEST_TURN_LOG").is_none() {
            cmd.stdout(Stdio::null());
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let child = cmd
            .args(&args)
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run turnserver ({e}): run scripts/setup-deps.sh test")
            });
        let me = Self {
            child,
            ip: ip.to_string(),
            udp_port,
            tls_port,
        };
        match netns {
            None => me.wait_ready(),
            Some(ns) => me.wait_ready_in(ns),
        }
        me
    }

    /// Waits until the TLS port listens inside namespace `ns`.
    fn wait_ready_in(&self, ns: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let want = format!("{}:{}", self.ip, self.tls_port);
        loop {
            let out = Command::new("ip")
                .args(["netns", "exec", ns, "ss", "-ltnH"])
                .output()
                .expect("ss");
            if String::from_utf8_lossy(&out.stdout).contains(&want) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "coturn did not start on {want} in {ns}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the TLS port accepts connections.
    pub fn wait_ready(&self) {
        let addr: SocketAddr = format!("{}:{}", self.ip, self.tls_port)
            .parse()
            .expect("addr");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(Instant::now() < deadline, "coturn did not start on {addr}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn tls_url(&self) -> String {
        format!("turns:{}:{}?transport=tcp", self.ip, self.tls_port)
    }

    pub fn udp_url(&self) -> String {
        format!("turn:{}:{}?transport=udp", self.ip, self.udp_port)
    }
}

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
