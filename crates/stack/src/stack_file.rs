//! `<state>/stack.json`: what a running `experiments up` tells other processes (the experiment
//! kit, `experiments ctl`, tests) so they can find and drive the stack.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::control::ControlClient;
use crate::ports::Ports;
use crate::{Error, Result};

/// What `stack.json` holds. Written once the stack is ready, removed when it stops.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackFile {
    /// `host:port` of the control channel.
    pub control: String,
    /// The runner's pid.
    pub pid: u32,
    /// Every port, by name, as in [`Ports`].
    pub ports: BTreeMap<String, u16>,
    /// What the control channel asks of its clients (see `control`): whoever can read this
    /// file (mode 0600) can drive the stack.
    #[serde(default)]
    pub control_token: String,
    /// The broker's administrator (a super user), for the kit's lag readers and Kafka's tools.
    #[serde(default)]
    pub kafka_user: String,
    #[serde(default)]
    pub kafka_password: String,
}

impl StackFile {
    /// Where the file of the stack in `state_dir` is.
    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join("stack.json")
    }

    /// The file of the stack that runs in `state_dir`; [`Error::NoStack`] when there is none.
    pub fn read(state_dir: &Path) -> Result<StackFile> {
        let path = Self::path(state_dir);
        let text = match std::fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NoStack {
                    path: path.display().to_string(),
                })
            }
            Err(e) => return Err(Error::io(&path, e)),
        };
        serde_json::from_slice(&text).map_err(|e| Error::BadStackFile {
            path: path.display().to_string(),
            detail: e.to_string(),
        })
    }

    pub fn write(&self, state_dir: &Path) -> Result<()> {
        let path = Self::path(state_dir);
        let text = serde_json::to_vec_pretty(self).expect("the stack file serializes");
        // Owner only: the file holds the control token.
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let _ = std::fs::remove_file(&path);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .and_then(|mut f| f.write_all(&text))
            .map_err(|e| Error::io(&path, e))
    }

    /// The stack's ports; names this version does not know are left out.
    pub fn ports(&self) -> Ports {
        let mut ports = Ports::default();
        for (name, port) in &self.ports {
            let _ = ports.set(name, *port);
        }
        ports
    }

    /// The broker, as its administrator.
    pub fn kafka(&self) -> kafka_access::KafkaAccess {
        let access = kafka_access::KafkaAccess::plaintext(self.ports().addr("kafka"));
        match self.kafka_user.is_empty() {
            true => access,
            false => access.with_credentials(kafka_access::Credentials::new(
                &self.kafka_user,
                &self.kafka_password,
            )),
        }
    }

    /// A client of its control channel.
    pub fn control(&self) -> ControlClient {
        ControlClient::new(&self.control).with_token(&self.control_token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_reads_back_and_names_a_missing_file() {
        let dir = std::env::temp_dir().join(format!("stack-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut ports = Ports::default();
        ports.set("kafka", 19092).unwrap();
        let file = StackFile {
            control: "127.0.0.1:8475".into(),
            pid: 42,
            ports: ports.iter().map(|(k, v)| (k.to_string(), v)).collect(),
            control_token: "t0ken".into(),
            kafka_user: "admin".into(),
            kafka_password: "pw".into(),
        };
        file.write(&dir).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(StackFile::path(&dir))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the token's file is the owner's only");
        let read = StackFile::read(&dir).unwrap();
        assert_eq!(read, file);
        assert_eq!(read.ports(), ports);

        std::fs::remove_file(StackFile::path(&dir)).unwrap();
        let err = StackFile::read(&dir).unwrap_err().to_string();
        assert!(
            err.contains("stack.json") && err.contains("experiments up"),
            "{err}"
        );
        std::fs::write(StackFile::path(&dir), "{").unwrap();
        assert!(matches!(
            StackFile::read(&dir),
            Err(Error::BadStackFile { .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
