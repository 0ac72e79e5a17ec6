//! What is done the same way to every Chaos Mesh kind: server-side apply, waiting for a status
//! condition (always with a deadline), deletion; and when a Deployment counts as ready.

use std::fmt::Debug;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::NamespaceResourceScope;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::runtime::wait::await_condition;
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::crd::{HasChaosStatus, KernelChaos, NetworkChaos, PodChaos, ALL_INJECTED};
use crate::scenario::ChaosObject;
use crate::target::FIELD_MANAGER;
use crate::{Error, Result};

/// Bound together because every Chaos Mesh kind is handled the same way.
pub(crate) trait ChaosKind:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + HasChaosStatus
    + Clone
    + Debug
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
}
impl ChaosKind for PodChaos {}
impl ChaosKind for NetworkChaos {}
impl ChaosKind for KernelChaos {}

pub(crate) async fn apply_and_wait<K: ChaosKind>(
    client: Client,
    object: &K,
    timeout: Duration,
) -> Result<()> {
    let ns = object.meta().namespace.clone().unwrap_or_default();
    let name = object.meta().name.clone().unwrap_or_default();
    let api: Api<K> = Api::namespaced(client.clone(), &ns);
    api.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(object),
    )
    .await?;
    let deadline = tokio::time::Instant::now() + timeout;
    wait_condition::<K>(client, &ns, &name, ALL_INJECTED, deadline).await
}

pub(crate) async fn wait_condition<K: ChaosKind>(
    client: Client,
    ns: &str,
    name: &str,
    condition: &'static str,
    deadline: tokio::time::Instant,
) -> Result<()> {
    let api: Api<K> = Api::namespaced(client, ns);
    let found = within(
        deadline,
        format!("{condition} on {} {ns}/{name}", K::kind(&())),
        await_condition(api, name, move |o: Option<&K>| {
            o.and_then(HasChaosStatus::chaos_status)
                .is_some_and(|s| s.is(condition))
        }),
    )
    .await?;
    match found {
        Some(_) => Ok(()),
        None => Err(Error::Gone {
            kind: std::any::type_name::<K>(),
            namespace: ns.to_owned(),
            name: name.to_owned(),
            condition,
        }),
    }
}

/// `await_condition` never gives up by itself; every wait here has a deadline.
pub(crate) async fn within<T>(
    deadline: tokio::time::Instant,
    what: String,
    wait: impl std::future::Future<Output = Result<T, kube::runtime::wait::Error>>,
) -> Result<T> {
    let started = tokio::time::Instant::now();
    match tokio::time::timeout_at(deadline, wait).await {
        Ok(done) => Ok(done?),
        Err(_) => Err(Error::Timeout {
            what,
            after: deadline.saturating_duration_since(started),
        }),
    }
}

pub(crate) fn deployment_ready(d: Option<&Deployment>) -> bool {
    let Some(d) = d else { return false };
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let status = d.status.as_ref();
    let ready = status.and_then(|s| s.ready_replicas).unwrap_or(0);
    let available = status.and_then(|s| s.available_replicas).unwrap_or(0);
    ready >= want && available >= want
}

pub(crate) async fn delete(
    client: Client,
    object: &ChaosObject,
    ns: &str,
    name: &str,
) -> Result<()> {
    let dp = DeleteParams::default();
    let deleted = match object {
        ChaosObject::Pod(_) => Api::<PodChaos>::namespaced(client, ns)
            .delete(name, &dp)
            .await
            .map(drop),
        ChaosObject::Network(_) => Api::<NetworkChaos>::namespaced(client, ns)
            .delete(name, &dp)
            .await
            .map(drop),
        ChaosObject::Kernel(_) => Api::<KernelChaos>::namespaced(client, ns)
            .delete(name, &dp)
            .await
            .map(drop),
    };
    ignore_missing(deleted)
}

pub(crate) fn ignore_missing(result: Result<(), kube::Error>) -> Result<()> {
    match result {
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        other => Ok(other?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{DeploymentSpec, DeploymentStatus};

    fn deployment(replicas: i32, ready: i32) -> Deployment {
        Deployment {
            spec: Some(DeploymentSpec {
                replicas: Some(replicas),
                ..DeploymentSpec::default()
            }),
            status: Some(DeploymentStatus {
                ready_replicas: Some(ready),
                available_replicas: Some(ready),
                ..DeploymentStatus::default()
            }),
            ..Deployment::default()
        }
    }

    #[test]
    fn a_deployment_is_ready_when_every_replica_is() {
        assert!(deployment_ready(Some(&deployment(2, 2))));
        assert!(!deployment_ready(Some(&deployment(2, 1))));
        assert!(!deployment_ready(None));
    }
}
