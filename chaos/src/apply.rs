//! What is done the same way to every Chaos Mesh kind: server-side apply, waiting for a status
//! condition (always with a deadline), deletion; and when a Deployment counts as ready.

use std::fmt::Debug;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::NamespaceResourceScope;
use kube::api::{ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::runtime::wait::await_condition;
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::crd::{HasChaosStatus, KernelChaos, NetworkChaos, PodChaos, ALL_INJECTED, GROUP};
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
    let found = within(
        deadline,
        format!("{ALL_INJECTED} on {} {ns}/{name}", K::kind(&())),
        await_condition(api, &name, |o: Option<&K>| {
            o.and_then(HasChaosStatus::chaos_status)
                .is_some_and(|s| s.is(ALL_INJECTED) || s.failed_attempts() >= FAILED_ATTEMPTS)
        }),
    )
    .await?;
    let status = found.as_ref().and_then(HasChaosStatus::chaos_status);
    match status {
        Some(s) if s.is(ALL_INJECTED) => Ok(()),
        Some(s) => Err(Error::NotInjected {
            kind: K::kind(&()).into_owned(),
            name,
            reason: s.failed_injection().unwrap_or_default(),
        }),
        None => Err(Error::Gone {
            kind: std::any::type_name::<K>(),
            namespace: ns,
            name,
            condition: ALL_INJECTED,
        }),
    }
}

/// Chaos Mesh retries a failed injection about once a second; after this many failures in a
/// row the fault is taken as impossible on this target (a missing qdisc does not appear).
const FAILED_ATTEMPTS: usize = 3;

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

pub(crate) fn stateful_set_ready(s: Option<&StatefulSet>) -> bool {
    let Some(s) = s else { return false };
    let want = s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let ready = s
        .status
        .as_ref()
        .and_then(|s| s.ready_replicas)
        .unwrap_or(0);
    ready >= want
}

/// A deleted Chaos Mesh object that never injected keeps its `chaos-mesh/records` finalizer:
/// the controller's records step keeps failing before the finalizer step runs, and the
/// `cleanFinalizer=forced` annotation does not help (measured: kind/sandbox/chaos-mesh.md). If
/// the object is still there after a grace period, drop its finalizers; for a NetworkChaos also
/// delete each selected pod's PodNetworkChaos, which otherwise keeps the failed tc entry and
/// makes the next network fault on that pod fail too.
pub(crate) async fn force_gone(
    client: Client,
    object: &ChaosObject,
    ns: &str,
    name: &str,
) -> Result<()> {
    let grace = Duration::from_secs(10);
    let records = match object {
        ChaosObject::Pod(_) => return Ok(()),
        ChaosObject::Network(_) => gone_within::<NetworkChaos>(&client, ns, name, grace).await?,
        ChaosObject::Kernel(_) => gone_within::<KernelChaos>(&client, ns, name, grace).await?,
    };
    let Some(records) = records else {
        return Ok(());
    };
    tracing::warn!(%ns, %name, "the fault is stuck on its finalizer: removing it by hand");
    let patch = Patch::Merge(serde_json::json!({"metadata": {"finalizers": []}}));
    let pp = PatchParams::default();
    let patched = match object {
        ChaosObject::Network(_) => Api::<NetworkChaos>::namespaced(client.clone(), ns)
            .patch(name, &pp, &patch)
            .await
            .map(drop),
        _ => Api::<KernelChaos>::namespaced(client.clone(), ns)
            .patch(name, &pp, &patch)
            .await
            .map(drop),
    };
    ignore_missing(patched)?;
    if let ChaosObject::Network(_) = object {
        let resource = ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(GROUP, "v1alpha1", "PodNetworkChaos"),
            "podnetworkchaos",
        );
        // A record's id is `<namespace>/<pod>`; the PodNetworkChaos is named as the pod.
        for id in records {
            let Some((pod_ns, pod)) = id.split_once('/') else {
                continue;
            };
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), pod_ns, &resource);
            ignore_missing(api.delete(pod, &DeleteParams::default()).await.map(drop))?;
        }
    }
    Ok(())
}

/// `None` when the object is gone within `grace`; its records' ids when it is not.
async fn gone_within<K: ChaosKind>(
    client: &Client,
    ns: &str,
    name: &str,
    grace: Duration,
) -> Result<Option<Vec<String>>> {
    let api: Api<K> = Api::namespaced(client.clone(), ns);
    let deadline = tokio::time::Instant::now() + grace;
    loop {
        let Some(o) = api.get_opt(name).await? else {
            return Ok(None);
        };
        if tokio::time::Instant::now() >= deadline {
            let ids = o
                .chaos_status()
                .and_then(|s| s.experiment.as_ref())
                .map(|x| x.container_records.iter().map(|r| r.id.clone()).collect())
                .unwrap_or_default();
            return Ok(Some(ids));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

pub(crate) fn ignore_missing_list<T: Clone + DeserializeOwned>(
    result: Result<kube::core::ObjectList<T>, kube::Error>,
) -> Result<Vec<T>> {
    match result {
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(Vec::new()),
        other => Ok(other?.items),
    }
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
