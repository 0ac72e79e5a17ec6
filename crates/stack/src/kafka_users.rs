//! The local broker's users (issue 15 M4): one per service, each allowed only what it does, and
//! an administrator for the stack itself, the experiment kit, the tests and Kafka's own tools.
//!
//! Passwords are new at every `up` (the broker reads them from its configuration, so nothing
//! stored needs changing), kept in files only the owner reads: the broker's configuration,
//! `<state>/stack.json` and `<state>/kafka/admin.properties`.

use kafka_access::acl::{self, Grant};
use kafka_access::Credentials;

/// The services' defaults (`USACTAR_TOPIC`, `USACTAR_DEAD_LETTER_TOPIC`, `USACTAR_GROUP`),
/// which the stack also sets for its services, so the grants and the names are the same.
pub const TOPIC: &str = "predictions";
pub const DEAD_LETTER_TOPIC: &str = "predictions.dead-letters";
pub const LOGS_GROUP: &str = "logs";
pub const LIVE_GROUP: &str = "live";

/// The administrator's user name; a super user of the broker.
pub const ADMIN: &str = "usactar-admin";

#[derive(Debug, Clone)]
pub struct KafkaUsers {
    pub admin: Credentials,
    pub ingest: Credentials,
    pub logs_writer: Credentials,
    pub live_forwarder: Credentials,
}

impl KafkaUsers {
    /// New random passwords (32 bytes from the kernel, hex); the user names are the services'.
    pub fn generate() -> std::io::Result<Self> {
        let user = |name: &str| {
            Ok::<_, std::io::Error>(Credentials::new(name, crate::control::new_token()?))
        };
        Ok(KafkaUsers {
            admin: user(ADMIN)?,
            ingest: user("ingest")?,
            logs_writer: user("logs-writer")?,
            live_forwarder: user("live-forwarder")?,
        })
    }

    /// Every user the broker accepts.
    pub fn all(&self) -> [&Credentials; 4] {
        [
            &self.admin,
            &self.ingest,
            &self.logs_writer,
            &self.live_forwarder,
        ]
    }

    /// What each service may do, and nothing else: ingest writes the topic (and creates it);
    /// each consumer reads it in its own group and writes the dead letters. Neither consumer
    /// may write the topic, read the other's group, or alter anything.
    pub fn grants(&self) -> Vec<Grant> {
        let mut out = acl::producer(&self.ingest.username, TOPIC);
        for (user, group) in [
            (&self.logs_writer, LOGS_GROUP),
            (&self.live_forwarder, LIVE_GROUP),
        ] {
            out.extend(acl::consumer(&user.username, TOPIC, group));
            out.extend(acl::producer(&user.username, DEAD_LETTER_TOPIC));
        }
        out
    }
}
