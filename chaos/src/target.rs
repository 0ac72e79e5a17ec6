//! The two clusters as one target: applying, watching and deleting the faults, and reading
//! each cluster's linkerd-viz Prometheus.

use std::time::{Duration, SystemTime};

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use kube::api::{DeleteParams, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::wait::await_condition;
use kube::{Api, Client, Config};

use crate::apply::{
    apply_and_wait, delete, deployment_ready, force_gone, ignore_missing, ignore_missing_list,
    stateful_set_ready, wait_condition, within,
};
use crate::crd::{KernelChaos, NetworkChaos, PodChaos, ALL_RECOVERED};
use crate::prometheus::Prometheus;
use crate::scenario::{build, ChaosObject, Cluster, Params, Placement, Scenario, Workload};
use crate::{Error, Result};

/// The server-side apply field manager: `kubectl get podchaos -o yaml --show-managed-fields`
/// shows which fields the experiments own.
pub const FIELD_MANAGER: &str = "usactar-experiments";
/// The label every object made here carries, so `cleanup_all` finds leftovers of a crashed run.
const MANAGED_BY: &str = "app.kubernetes.io/managed-by=usactar-experiments";

/// Where linkerd-viz's Prometheus of cluster A and B is reached by default: the ports of
/// `kubectl -n linkerd-viz port-forward svc/prometheus 9090` (and 9091 for the second cluster).
pub const DEFAULT_PROMETHEUS: [&str; 2] = ["http://localhost:9090", "http://localhost:9091"];

/// The two clusters, where the services run on them, and where their metrics are read.
#[derive(Clone)]
pub struct KubeTarget {
    a: Client,
    b: Client,
    pub placement: Placement,
    /// How long Chaos Mesh may take to report `AllInjected` (image pulls of the pause image for
    /// pod-failure, chaos-daemon on a busy node).
    pub inject_timeout: Duration,
    /// linkerd-viz's Prometheus of cluster A and of cluster B.
    prometheus: [Prometheus; 2],
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
            prometheus: DEFAULT_PROMETHEUS.map(Prometheus::new),
        }
    }

    /// Reads cluster A's golden metrics from `a` and cluster B's from `b`.
    pub fn with_prometheus(mut self, a: Prometheus, b: Prometheus) -> Self {
        self.prometheus = [a, b];
        self
    }

    /// linkerd-viz's Prometheus of `cluster`.
    pub fn prometheus(&self, cluster: Cluster) -> &Prometheus {
        match cluster {
            Cluster::A => &self.prometheus[0],
            Cluster::B => &self.prometheus[1],
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
            let (ns, workload) = match injected.scenario.workload() {
                Some(w) => self.placement.workload(w),
                None => (
                    self.placement.consumer_namespace.as_str(),
                    self.placement.consumer_app.as_str(),
                ),
            };
            let dip = Duration::from_secs(10).min(timeout);
            // Kafka runs as a StatefulSet, the services as Deployments.
            if injected.scenario.workload() == Some(Workload::Kafka) {
                let api: Api<StatefulSet> = Api::namespaced(client, ns);
                dip_then_ready(api, workload, stateful_set_ready, dip, deadline).await?;
            } else {
                let api: Api<Deployment> = Api::namespaced(client, ns);
                dip_then_ready(api, workload, deployment_ready, dip, deadline).await?;
            }
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
        let client = self.client(injected.cluster).clone();
        delete(
            client.clone(),
            &injected.object,
            &injected.namespace,
            &injected.name,
        )
        .await?;
        force_gone(
            client,
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
        let namespaces = self.placement.namespaces();
        for client in [&self.a, &self.b] {
            for ns in namespaces {
                let pods: Api<PodChaos> = Api::namespaced(client.clone(), ns);
                let nets: Api<NetworkChaos> = Api::namespaced(client.clone(), ns);
                let kernels: Api<KernelChaos> = Api::namespaced(client.clone(), ns);
                ignore_missing(pods.delete_collection(&dp, &lp).await.map(drop))?;
                ignore_missing(nets.delete_collection(&dp, &lp).await.map(drop))?;
                ignore_missing(kernels.delete_collection(&dp, &lp).await.map(drop))?;
                // Objects that never injected keep their finalizer (see `force_gone`).
                for o in ignore_missing_list(nets.list(&lp).await)? {
                    let object = ChaosObject::Network(o.clone());
                    let name = o.metadata.name.clone().unwrap_or_default();
                    force_gone(client.clone(), &object, ns, &name).await?;
                }
                for o in ignore_missing_list(kernels.list(&lp).await)? {
                    let object = ChaosObject::Kernel(o.clone());
                    let name = o.metadata.name.clone().unwrap_or_default();
                    force_gone(client.clone(), &object, ns, &name).await?;
                }
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

/// Waits up to `dip` for the workload to lose a ready replica (no dip within it is fine: the
/// replacement was faster than we looked), then until `deadline` for it to be ready again.
async fn dip_then_ready<K>(
    api: Api<K>,
    name: &str,
    ready: fn(Option<&K>) -> bool,
    dip: Duration,
    deadline: tokio::time::Instant,
) -> Result<()>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + 'static,
{
    let not_ready = await_condition(api.clone(), name, move |o: Option<&K>| !ready(o));
    let _ = tokio::time::timeout(dip, not_ready).await;
    within(
        deadline,
        format!("{} {name} ready again", K::kind(&())),
        await_condition(api, name, ready),
    )
    .await?;
    Ok(())
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
