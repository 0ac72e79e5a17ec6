//! How every client reaches Kafka: the bootstrap servers and, when the broker asks for them,
//! SASL/PLAIN credentials (issue 15 M4). Services, the local stack, the experiment kit and the
//! tests all build their clients from a [`KafkaAccess`], so none of them can forget the
//! credentials, and none of them prints a password ([`Credentials`]' `Debug` hides it).
//!
//! [`acl`] grants the ACLs that give each service only what it needs; [`rebootstrap`] gives a
//! client that lost every broker its bootstrap servers back.

pub mod acl;
pub mod rebootstrap;

use std::fmt;

use rdkafka::ClientConfig;

/// The SASL mechanism. PLAIN because the broker then takes its users from its own
/// configuration: a fresh broker needs no step that stores users before clients can log in
/// (SCRAM keeps them in the metadata log). PLAIN sends the password as it is, so the listener
/// is only as private as its network: the loopback locally, the data namespace's
/// NetworkPolicy on a cluster (README, "Not done": no TLS to Kafka).
pub const MECHANISM: &str = "PLAIN";

/// Kafka properties written as `name=value` pairs separated by commas
/// (`linger.ms=5, fetch.min.bytes=65536`), as the settings that tune a client or the broker take
/// them; empty pairs are skipped. Refused, with the reason, when a pair is not `name=value`, a
/// name is not lowercase words and dots, or a value holds a line break.
pub fn properties(value: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for pair in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("{pair:?} is not name=value"))?;
        let (name, v) = (name.trim(), v.trim());
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c == '.') {
            return Err(format!(
                "{name:?} is not a Kafka property name (lowercase words and dots)"
            ));
        }
        if v.contains(['\n', '\r']) {
            return Err(format!("the value of {name} holds a line break"));
        }
        out.push((name.to_string(), v.to_string()));
    }
    Ok(out)
}

/// A Kafka user and its password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<hidden>")
            .finish()
    }
}

impl Credentials {
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            username: username.into(),
            password: password.into(),
        }
    }

    /// The principal Kafka's authorizer sees for this user.
    pub fn principal(&self) -> String {
        principal(&self.username)
    }
}

/// `User:<name>`, as ACLs name a SASL user.
pub fn principal(username: &str) -> String {
    format!("User:{username}")
}

/// Where a client connects and who it is there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaAccess {
    /// `host:port[,host:port...]`.
    pub bootstrap: String,
    /// None: the listener is PLAINTEXT, without authentication.
    pub credentials: Option<Credentials>,
}

impl KafkaAccess {
    /// A client of an unauthenticated listener.
    pub fn plaintext(bootstrap: impl Into<String>) -> Self {
        KafkaAccess {
            bootstrap: bootstrap.into(),
            credentials: None,
        }
    }

    pub fn with_credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// A librdkafka configuration with the bootstrap servers and the credentials set; the
    /// caller adds its own properties.
    pub fn client(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap);
        for (name, value) in self.security_properties() {
            config.set(name, value);
        }
        config
    }

    /// The same as a properties file for Kafka's own tools (`--command-config`,
    /// `--consumer.config`, `--producer.config`).
    pub fn tool_properties(&self) -> String {
        let mut out = format!("bootstrap.servers={}\n", self.bootstrap);
        let Some(c) = &self.credentials else {
            return out;
        };
        out.push_str(&format!(
            "security.protocol=SASL_PLAINTEXT\nsasl.mechanism={MECHANISM}\n\
             sasl.jaas.config={}\n",
            jaas_login(c)
        ));
        out
    }

    /// `security.protocol` and the SASL properties, if any (librdkafka's names).
    fn security_properties(&self) -> Vec<(&'static str, String)> {
        match &self.credentials {
            None => Vec::new(),
            Some(c) => vec![
                ("security.protocol", "SASL_PLAINTEXT".into()),
                ("sasl.mechanisms", MECHANISM.into()),
                ("sasl.username", c.username.clone()),
                ("sasl.password", c.password.clone()),
            ],
        }
    }
}

/// The client side of Java's PLAIN login module, as Kafka's tools and the broker's own
/// inter-broker client read it.
pub fn jaas_login(c: &Credentials) -> String {
    format!(
        "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"{}\" password=\"{}\";",
        c.username, c.password
    )
}

/// The broker side: the login it uses itself (`admin`) and every user it accepts.
pub fn jaas_server(admin: &Credentials, users: &[&Credentials]) -> String {
    let mut out = format!(
        "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"{}\" password=\"{}\"",
        admin.username, admin.password
    );
    for user in users {
        out.push_str(&format!(" user_{}=\"{}\"", user.username, user.password));
    }
    out.push(';');
    out
}

/// librdkafka's fatal error of `client`, if it has had one, as one line: after it the client
/// can never work again (an idempotent producer refused its producer id, say), and the
/// service must end (`service_kit::fatal`).
pub fn fatal_error<C: rdkafka::ClientContext>(
    client: &rdkafka::client::Client<C>,
) -> Option<String> {
    client
        .fatal_error()
        .map(|(code, reason)| format!("{reason} ({code:?})"))
}

/// Names and passwords go into JAAS strings between double quotes and into properties files:
/// only characters that need no escaping in either are accepted.
pub fn check_token(what: &str, value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("{what} is empty"));
    }
    match value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        Some(c) => Err(format!(
            "{what} holds {c:?}; use letters, digits, '-', '_' and '.'"
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_never_shows_in_debug_output() {
        let access = KafkaAccess::plaintext("127.0.0.1:9092")
            .with_credentials(Credentials::new("ingest", "s3cret-value"));
        let shown = format!("{access:?}");
        assert!(
            shown.contains("ingest") && !shown.contains("s3cret-value"),
            "{shown}"
        );
    }

    #[test]
    fn tool_properties_and_jaas_name_the_user() {
        let admin = Credentials::new("admin", "a1");
        let ingest = Credentials::new("ingest", "i2");
        let access = KafkaAccess::plaintext("h:1").with_credentials(admin.clone());
        assert_eq!(
            access.tool_properties(),
            "bootstrap.servers=h:1\nsecurity.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n\
             sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required \
             username=\"admin\" password=\"a1\";\n"
        );
        assert!(jaas_server(&admin, &[&admin, &ingest])
            .ends_with("user_admin=\"a1\" user_ingest=\"i2\";"));
        assert_eq!(
            KafkaAccess::plaintext("h:1").tool_properties(),
            "bootstrap.servers=h:1\n"
        );
    }

    #[test]
    fn tokens_with_quotes_or_spaces_are_refused() {
        assert!(check_token("password", "abc-DEF_1.2").is_ok());
        for bad in ["", "a b", "a\"b", "a;b", "a\nb", "é"] {
            assert!(check_token("password", bad).is_err(), "{bad:?}");
        }
    }
}
