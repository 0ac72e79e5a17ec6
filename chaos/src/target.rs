//! Applying, watching and deleting the faults on the two clusters.

use std::fmt::Debug;
use std::time::{Duration, SystemTime};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::NamespaceResourceScope;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::wait::await_condition;
use kube::{Api, Client, Config, Resource};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::crd::{
    HasChaosStatus, KernelChaos, NetworkChaos, PodChaos, ALL_INJECTED, ALL_RECOVERED,
};
use crate::scenario::{build, ChaosObject, Cluster, Params, Placement, Scenario};
use crate::{Error, Result};

/// The server-side apply field manager: `kubectl get podchaos -o yaml --show-managed-fields`
/// shows which fields the experiments own.
pub const FIELD_MANAGER: &str = "usactar-experiments";
/// The label every object made here carries, so `cleanup_all` finds leftovers of a crashed run.
const MANAGED_BY: &str = "app.kubernetes.io/managed-by=usactar-experiments";

/// The two clusters and where the services run on them.
#[derive(Clone)]
pub struct KubeTarget {
    a: Client,
    b: Client,
    pub placement: Placement,
    /// How long Chaos Mesh may take to report `AllInjected` (image pulls of the pause image for
    /// pod-failure, chaos-daemon on a busy node).
    pub inject_timeout: Duration,
}

/// A fault that Chaos Mesh reported injected. Hand it back to `wait_recovered` and `cleanup`.
#[derive(Clone, Debug)]
pub struct Injected {
    pub scenario: Scenario,
    pub cluster: Cluster,
    pub namespace: String,
    pub name: String,
    /// When the apply was accepted, and when `AllInjected` was seen: the fault window starts
    /// somewhere between the two.
    pub applied_at: SystemTime,
    pub injected_at: SystemTime,
    pub object: ChaosObject,
}

impl KubeTarget {
    pub fn new(a: Client, b: Client, placement: Placement) -> Self {
        Self {
            a,
            b,
            placement,
            inject_timeout: Duration::from_secs(90),
        }
    }

    /// Clients for two kubeconfig contexts (`kind-usactar-a`, `kind-usactar-b` on kind); `None`
    /// uses the current context, so a single cluster can hold both roles.
    pub async fn from_contexts(a: Option<&str>, b: Option<&str>) -> Result<Self> {
        crate::install_crypto_provider();
        let kubeconfig = Kubeconfig::read()?;
        let client = |context: Option<&str>| {
            let kubeconfig = kubeconfig.clone();
            let options = KubeConfigOptions {
                context: context.map(str::to_owned),
                ..KubeConfigOptions::default()
            };
            async move {
                let config = Config::from_custom_kubeconfig(kubeconfig, &options).await?;
                Ok::<_, Error>(Client::try_from(config)?)
            }
        };
        Ok(Self::new(
            client(a).await?,
            client(b).await?,
            Placement::default(),
        ))
    }

    pub fn client(&self, cluster: Cluster) -> &Client {
        match cluster {
            Cluster::A => &self.a,
            Cluster::B => &self.b,
        }
    }

    /// Applies the fault (server-side apply, forced: a rerun with the same run id takes the
    /// object over) and waits for Chaos Mesh's `AllInjected`. If that never comes, the object
    /// is deleted before the error is returned, since the caller holds nothing to clean up.
    pub async fn inject(&self, scenario: Scenario, params: &Params) -> Result<Injected> {
        let object = build(scenario, &self.placement, params);
        let cluster = scenario.cluster();
        let client = self.client(cluster).clone();
        let applied_at = SystemTime::now();
        let waited = match &object {
            ChaosObject::Pod(o) => apply_and_wait(client, o, self.inject_timeout).await,
            ChaosObject::Network(o) => apply_and_wait(client, o, self.inject_timeout).await,
            ChaosObject::Kernel(o) => apply_and_wait(client, o, self.inject_timeout).await,
        };
        let injected = Injected {
            scenario,
            cluster,
            namespace: object.namespace().to_owned(),
            name: object.name().to_owned(),
            applied_at,
            injected_at: SystemTime::now(),
            object,
        };
        if let Err(err) = waited {
            if let Err(cleanup) = self.cleanup(&injected).await {
                tracing::warn!(%cleanup, name = %injected.name, "could not delete a fault that never got injected");
            }
            return Err(err);
        }
        tracing::info!(scenario = %scenario, name = %injected.name, "fault injected");
        Ok(injected)
    }

    /// Waits until the system is back, within `timeout`, and returns when that was seen.
    ///
    /// Faults with a duration end with Chaos Mesh's `AllRecovered`. The one-shot kills never
    /// get it (there is nothing for Chaos Mesh to undo), so for them this waits for the target
    /// Deployment to lose a ready replica (briefly: a fast restart may hide the dip) and then to
    /// have all of them ready again.
    pub async fn wait_recovered(
        &self,
        injected: &Injected,
        timeout: Duration,
    ) -> Result<SystemTime> {
        let client = self.client(injected.cluster).clone();
        let ns = injected.namespace.as_str();
        let name = injected.name.as_str();
        let deadline = tokio::time::Instant::now() + timeout;
        if injected.scenario.is_one_shot() {
            let deployment = match injected.scenario {
                Scenario::PodKill => &self.placement.read_api_app,
                _ => &self.placement.consumer_app,
            };
            let api: Api<Deployment> = Api::namespaced(client, ns);
            let dip = Duration::from_secs(10).min(timeout);
            let not_ready = await_condition(api.clone(), deployment, |d: Option<&Deployment>| {
                !deployment_ready(d)
            });
            // No dip within the window is fine: the replacement was faster than we looked.
            let _ = tokio::time::timeout(dip, not_ready).await;
            within(
                deadline,
                format!("Deployment {ns}/{deployment} ready again"),
                await_condition(api, deployment, deployment_ready),
            )
            .await?;
        } else {
            match &injected.object {
                ChaosObject::Pod(_) => {
                    wait_condition::<PodChaos>(client, ns, name, ALL_RECOVERED, deadline).await?
                }
                ChaosObject::Network(_) => {
                    wait_condition::<NetworkChaos>(client, ns, name, ALL_RECOVERED, deadline)
                        .await?
                }
                ChaosObject::Kernel(_) => {
                    wait_condition::<KernelChaos>(client, ns, name, ALL_RECOVERED, deadline).await?
                }
            }
        }
        Ok(SystemTime::now())
    }

    /// Deletes the fault. Idempotent: an object already gone is success. Call it on every path
    /// out of an experiment, Ctrl-C included (e.g. `tokio::select!` on `tokio::signal::ctrl_c()`
    /// around the run, then `cleanup`): Chaos Mesh recovers a fault when its object is deleted.
    pub async fn cleanup(&self, injected: &Injected) -> Result<()> {
        delete(
            self.client(injected.cluster).clone(),
            &injected.object,
            &injected.namespace,
            &injected.name,
        )
        .await
    }

    /// Deletes every Chaos Mesh object this crate made in the placement's namespaces, on both
    /// clusters: the way out after a run that died without its `Injected`.
    pub async fn cleanup_all(&self) -> Result<()> {
        let lp = ListParams::default().labels(MANAGED_BY);
        let dp = DeleteParams::default();
        let namespaces = [
            &self.placement.read_api_namespace,
            &self.placement.consumer_namespace,
        ];
        for client in [&self.a, &self.b] {
            for ns in namespaces {
                let pods: Api<PodChaos> = Api::namespaced(client.clone(), ns);
                let nets: Api<NetworkChaos> = Api::namespaced(client.clone(), ns);
                let kernels: Api<KernelChaos> = Api::namespaced(client.clone(), ns);
                ignore_missing(pods.delete_collection(&dp, &lp).await.map(drop))?;
                ignore_missing(nets.delete_collection(&dp, &lp).await.map(drop))?;
                ignore_missing(kernels.delete_collection(&dp, &lp).await.map(drop))?;
            }
        }
        Ok(())
    }

    /// A guard that deletes the fault when dropped, for the paths that cannot `await` (a panic
    /// unwinding the experiment). Prefer `CleanupGuard::cleanup`, which reports errors.
    pub fn guard(&self, injected: &Injected) -> CleanupGuard {
        CleanupGuard {
            client: self.client(injected.cluster).clone(),
            injected: Some(injected.clone()),
        }
    }
}

/// Deletes its fault when dropped, on the current Tokio runtime, best effort (a runtime that is
/// shutting down may not run it: that is why callers `cleanup` explicitly).
pub struct CleanupGuard {
    client: Client,
    injected: Option<Injected>,
}

impl CleanupGuard {
    /// Deletes the fault now and disarms the guard.
    pub async fn cleanup(mut self) -> Result<()> {
        match self.injected.take() {
            Some(i) => delete(self.client.clone(), &i.object, &i.namespace, &i.name).await,
            None => Ok(()),
        }
    }

    /// Keeps the fault (e.g. to inspect it with kubectl after a failed run).
    pub fn disarm(mut self) {
        self.injected = None;
    }
}

impl Drop for CleanupGuard {
    fn drop(&mut self) {
        let Some(i) = self.injected.take() else {
            return;
        };
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(name = %i.name, "no runtime to delete the fault on; delete it by hand");
            return;
        };
        let client = self.client.clone();
        handle.spawn(async move {
            if let Err(err) = delete(client, &i.object, &i.namespace, &i.name).await {
                tracing::warn!(%err, name = %i.name, "could not delete the fault");
            }
        });
    }
}

/// Bound together because every Chaos Mesh kind is handled the same way.
trait ChaosKind:
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
impl<K> ChaosKind for K where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
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

async fn apply_and_wait<K: ChaosKind>(client: Client, object: &K, timeout: Duration) -> Result<()> {
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

async fn wait_condition<K: ChaosKind>(
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
async fn within<T>(
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

fn deployment_ready(d: Option<&Deployment>) -> bool {
    let Some(d) = d else { return false };
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let status = d.status.as_ref();
    let ready = status.and_then(|s| s.ready_replicas).unwrap_or(0);
    let available = status.and_then(|s| s.available_replicas).unwrap_or(0);
    ready >= want && available >= want
}

async fn delete(client: Client, object: &ChaosObject, ns: &str, name: &str) -> Result<()> {
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

fn ignore_missing(result: Result<(), kube::Error>) -> Result<()> {
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
