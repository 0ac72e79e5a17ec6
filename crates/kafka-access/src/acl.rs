//! The ACLs that give each service only what it needs, and granting them.
//!
//! Kafka keeps ACLs in its metadata log, so a fresh broker has none and they can only be
//! created through its Admin API. rust-rdkafka does not wrap librdkafka's `CreateAcls`, so
//! [`grant`] calls it directly (with `crate::rebootstrap`, the workspace's only `unsafe` code).

use std::ffi::{CStr, CString};
use std::fmt;
use std::os::raw::c_char;
use std::time::Duration;

use rdkafka::admin::AdminClient;
use rdkafka::bindings as rd;
use rdkafka::client::DefaultClientContext;

use crate::KafkaAccess;

/// What an ACL is about (always a literal name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    Topic(String),
    Group(String),
}

/// What it allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Read,
    Write,
    Create,
    Describe,
}

/// Whether a rule allows or denies. A DENY wins over every ALLOW of the same principal: it is
/// how a right is taken away again (the tests take one to see what a service does without it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    Allow,
    Deny,
}

/// One rule: `principal` may (or, denied, may not) do `operation` on `resource`, from any host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub principal: String,
    pub resource: Resource,
    pub operation: Operation,
    pub permission: Permission,
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, name) = match &self.resource {
            Resource::Topic(n) => ("topic", n),
            Resource::Group(n) => ("group", n),
        };
        let denied = match self.permission {
            Permission::Allow => "",
            Permission::Deny => " denied",
        };
        write!(
            f,
            "{} {:?}{denied} on {kind} {name}",
            self.principal, self.operation
        )
    }
}

fn grant_to(user: &str, resource: Resource, operations: &[Operation]) -> Vec<Grant> {
    operations
        .iter()
        .map(|&operation| Grant {
            principal: crate::principal(user),
            resource: resource.clone(),
            operation,
            permission: Permission::Allow,
        })
        .collect()
}

/// The same rules as `grants`, denied.
pub fn deny(grants: Vec<Grant>) -> Vec<Grant> {
    grants
        .into_iter()
        .map(|g| Grant {
            permission: Permission::Deny,
            ..g
        })
        .collect()
}

/// What a producer needs to write `topic` (idempotently: since Kafka 3.0, WRITE on the topic
/// is enough for that) and to create it if it is missing.
pub fn producer(user: &str, topic: &str) -> Vec<Grant> {
    use Operation::*;
    grant_to(
        user,
        Resource::Topic(topic.into()),
        &[Write, Describe, Create],
    )
}

/// What a member of consumer group `group` needs to read `topic` and commit its offsets.
pub fn consumer(user: &str, topic: &str, group: &str) -> Vec<Grant> {
    use Operation::*;
    let mut out = grant_to(user, Resource::Topic(topic.into()), &[Read, Describe]);
    out.extend(grant_to(user, Resource::Group(group.into()), &[Read]));
    out
}

/// Creates every grant (one that exists already is left as it is), as `access`'s user, who
/// must be allowed to alter the cluster's ACLs (a super user). Blocking: call it off the async
/// threads.
pub fn grant(access: &KafkaAccess, grants: &[Grant], timeout: Duration) -> Result<(), String> {
    if grants.is_empty() {
        return Ok(());
    }
    let admin: AdminClient<DefaultClientContext> = access
        .client()
        .create()
        .map_err(|e| format!("creating an admin client: {e}"))?;
    let mut bindings = Bindings(Vec::with_capacity(grants.len()));
    for g in grants {
        bindings.0.push(binding(g)?);
    }
    create_acls(&admin, &mut bindings, timeout)
}

/// Owns the bindings until they are destroyed, also on an early return.
struct Bindings(Vec<*mut rd::rd_kafka_AclBinding_t>);

impl Drop for Bindings {
    fn drop(&mut self) {
        #[allow(unsafe_code)]
        // SAFETY: each pointer came from rd_kafka_AclBinding_new and is destroyed once, here.
        unsafe {
            for b in self.0.drain(..) {
                rd::rd_kafka_AclBinding_destroy(b);
            }
        }
    }
}

fn binding(g: &Grant) -> Result<*mut rd::rd_kafka_AclBinding_t, String> {
    let (restype, name) = match &g.resource {
        Resource::Topic(n) => (rd::rd_kafka_ResourceType_t::RD_KAFKA_RESOURCE_TOPIC, n),
        Resource::Group(n) => (rd::rd_kafka_ResourceType_t::RD_KAFKA_RESOURCE_GROUP, n),
    };
    let operation = match g.operation {
        Operation::Read => rd::rd_kafka_AclOperation_t::RD_KAFKA_ACL_OPERATION_READ,
        Operation::Write => rd::rd_kafka_AclOperation_t::RD_KAFKA_ACL_OPERATION_WRITE,
        Operation::Create => rd::rd_kafka_AclOperation_t::RD_KAFKA_ACL_OPERATION_CREATE,
        Operation::Describe => rd::rd_kafka_AclOperation_t::RD_KAFKA_ACL_OPERATION_DESCRIBE,
    };
    let permission = match g.permission {
        Permission::Allow => rd::rd_kafka_AclPermissionType_t::RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW,
        Permission::Deny => rd::rd_kafka_AclPermissionType_t::RD_KAFKA_ACL_PERMISSION_TYPE_DENY,
    };
    let c = |s: &str| CString::new(s).map_err(|_| format!("{g}: a name holds a NUL byte"));
    let (name, principal, host) = (c(name)?, c(&g.principal)?, c("*")?);
    let mut errstr = [0 as c_char; 512];
    #[allow(unsafe_code)]
    // SAFETY: every string is a live, NUL-terminated CString; librdkafka copies them, and writes
    // at most errstr.len() bytes into errstr.
    let b = unsafe {
        rd::rd_kafka_AclBinding_new(
            restype,
            name.as_ptr(),
            rd::rd_kafka_ResourcePatternType_t::RD_KAFKA_RESOURCE_PATTERN_LITERAL,
            principal.as_ptr(),
            host.as_ptr(),
            operation,
            permission,
            errstr.as_mut_ptr(),
            errstr.len(),
        )
    };
    if b.is_null() {
        return Err(format!("{g}: {}", text(errstr.as_ptr())));
    }
    Ok(b)
}

/// librdkafka's message, or a placeholder for a null pointer.
fn text(p: *const c_char) -> String {
    if p.is_null() {
        return "(no message)".into();
    }
    #[allow(unsafe_code)]
    // SAFETY: librdkafka's strings are NUL-terminated and live as long as their event or buffer,
    // which outlives this copy.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

fn create_acls(
    admin: &AdminClient<DefaultClientContext>,
    bindings: &mut Bindings,
    timeout: Duration,
) -> Result<(), String> {
    let rk = admin.inner().native_ptr();
    let timeout_ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    #[allow(unsafe_code)]
    // SAFETY: rk is the admin client's handle, alive for this whole function. The queue, the
    // options and the event are created here and destroyed here once each; the bindings are
    // only read by CreateAcls (the caller destroys them). Result pointers are read before the
    // event that owns them is destroyed.
    unsafe {
        let queue = rd::rd_kafka_queue_new(rk);
        let options = rd::rd_kafka_AdminOptions_new(
            rk,
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_CREATEACLS,
        );
        let mut errstr = [0 as c_char; 512];
        rd::rd_kafka_AdminOptions_set_request_timeout(
            options,
            timeout_ms,
            errstr.as_mut_ptr(),
            errstr.len(),
        );
        rd::rd_kafka_CreateAcls(
            rk,
            bindings.0.as_mut_ptr(),
            bindings.0.len(),
            options,
            queue,
        );
        // The request's own timeout ends it; the poll waits a little longer for that answer.
        let event = rd::rd_kafka_queue_poll(queue, timeout_ms.saturating_add(2_000));
        let outcome = if event.is_null() {
            Err(format!("no answer to CreateAcls within {timeout:?}"))
        } else {
            let outcome = read_result(event);
            rd::rd_kafka_event_destroy(event);
            outcome
        };
        rd::rd_kafka_AdminOptions_destroy(options);
        rd::rd_kafka_queue_destroy(queue);
        outcome
    }
}

#[allow(unsafe_code)]
/// # Safety
/// `event` must be a live CreateAcls result event.
unsafe fn read_result(event: *mut rd::rd_kafka_event_t) -> Result<(), String> {
    if rd::rd_kafka_event_error(event) != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
        return Err(format!(
            "CreateAcls failed: {}",
            text(rd::rd_kafka_event_error_string(event))
        ));
    }
    let result = rd::rd_kafka_event_CreateAcls_result(event);
    if result.is_null() {
        return Err("CreateAcls answered with another kind of event".into());
    }
    let mut count = 0usize;
    let acls = rd::rd_kafka_CreateAcls_result_acls(result, &mut count);
    let mut failures = Vec::new();
    for i in 0..count {
        let error = rd::rd_kafka_acl_result_error(*acls.add(i));
        if !error.is_null() {
            failures.push(text(rd::rd_kafka_error_string(error)));
        }
    }
    match failures.is_empty() {
        true => Ok(()),
        false => Err(format!("CreateAcls refused: {}", failures.join("; "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_consumer_reads_its_topic_and_its_group_only() {
        let grants = consumer("logs-writer", "predictions", "logs");
        let shown: Vec<String> = grants.iter().map(Grant::to_string).collect();
        assert_eq!(
            shown,
            [
                "User:logs-writer Read on topic predictions",
                "User:logs-writer Describe on topic predictions",
                "User:logs-writer Read on group logs",
            ]
        );
        assert_eq!(producer("ingest", "predictions").len(), 3);
        assert_eq!(
            deny(producer("ingest", "predictions"))[0].to_string(),
            "User:ingest Write denied on topic predictions"
        );
    }
}
