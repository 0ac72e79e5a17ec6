//! `KubeTarget` against a real kube-apiserver (with etcd), envtest-style: no kubelet, no Chaos
//! Mesh. The CRDs are the ones kube-rs derives from the typed structs, and a small task in the
//! test stands in for Chaos Mesh's controller, setting the status conditions it would set. What
//! this proves: server-side apply of the objects is accepted by an API server, the waits see
//! the conditions, the Deployment-readiness wait works, cleanup deletes (and is idempotent), a
//! fault that never gets injected is deleted on timeout.
//!
//! Needs `kube-apiserver` and `etcd`: `chaos/envtest/build.sh` builds them from the Go module
//! proxy (slow once: ~6 min) and `scripts/test` (or `chaos/envtest/run.sh`) runs the tests with
//! their paths in USACTAR_KUBE_APISERVER / USACTAR_ETCD. Without them this test fails: it never
//! skips.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chaos::crd::{ChaosCondition, ChaosStatus, KernelChaos, NetworkChaos, PodChaos};
use chaos::{Container, KubeTarget, Params, Placement, Scenario, Workload, FIELD_MANAGER};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Client, Config, CustomResourceExt, Resource};
use serde_json::json;

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn binary(var: &str) -> PathBuf {
    let path = std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} must name the binary; chaos/envtest/run.sh builds and sets it")
    });
    assert!(Path::new(&path).is_file(), "{var}={path} is not a file");
    path.into()
}

fn spawn(cmd: &mut Command, log: &Path) -> Killed {
    let log = std::fs::File::create(log).unwrap();
    Killed(
        cmd.stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("{cmd:?}: {e}")),
    )
}

/// etcd and kube-apiserver in `dir`, and a client authenticated as system:masters.
async fn start(dir: &Path) -> (Killed, Killed, Client) {
    let etcd_port = free_port();
    let peer_port = free_port();
    let etcd = spawn(
        Command::new(binary("USACTAR_ETCD"))
            .arg(format!("--data-dir={}", dir.join("etcd").display()))
            .arg(format!("--listen-client-urls=http://127.0.0.1:{etcd_port}"))
            .arg(format!(
                "--advertise-client-urls=http://127.0.0.1:{etcd_port}"
            ))
            .arg(format!("--listen-peer-urls=http://127.0.0.1:{peer_port}"))
            .arg(format!(
                "--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}"
            ))
            .arg(format!(
                "--initial-cluster=default=http://127.0.0.1:{peer_port}"
            )),
        &dir.join("etcd.log"),
    );
    // Service-account tokens need a signing key even though nothing here uses them.
    let key = dir.join("sa.key");
    let status = Command::new("openssl")
        .args(["genrsa", "-out"])
        .arg(&key)
        .arg("2048")
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(status.success());
    let token = "usactar-test-token";
    std::fs::write(
        dir.join("tokens.csv"),
        format!("{token},admin,admin,system:masters\n"),
    )
    .unwrap();
    let port = free_port();
    let apiserver = spawn(
        Command::new(binary("USACTAR_KUBE_APISERVER"))
            .arg(format!("--etcd-servers=http://127.0.0.1:{etcd_port}"))
            .arg(format!("--cert-dir={}", dir.join("certs").display()))
            .arg(format!("--secure-port={port}"))
            .arg("--bind-address=127.0.0.1")
            .arg("--advertise-address=127.0.0.1")
            .arg("--service-cluster-ip-range=10.0.0.0/24")
            .arg(format!(
                "--token-auth-file={}",
                dir.join("tokens.csv").display()
            ))
            .arg("--authorization-mode=RBAC")
            .arg("--service-account-issuer=https://kubernetes.default.svc")
            .arg(format!("--service-account-key-file={}", key.display()))
            .arg(format!(
                "--service-account-signing-key-file={}",
                key.display()
            ))
            .arg("--disable-admission-plugins=ServiceAccount"),
        &dir.join("apiserver.log"),
    );
    let kubeconfig = Kubeconfig::from_yaml(&format!(
        r#"
apiVersion: v1
kind: Config
clusters:
  - name: envtest
    cluster:
      server: https://127.0.0.1:{port}
      insecure-skip-tls-verify: true
users:
  - name: admin
    user:
      token: {token}
contexts:
  - name: envtest
    context: {{cluster: envtest, user: admin}}
current-context: envtest
"#
    ))
    .unwrap();
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap();
    chaos::install_crypto_provider();
    let client = Client::try_from(config).unwrap();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ready = retry::poll_until(Duration::from_secs(90), Duration::from_millis(300), || {
        namespaces.get("default")
    })
    .await;
    if let Err(e) = ready {
        panic!(
            "kube-apiserver not ready in 90 s ({e}):\n{}",
            std::fs::read_to_string(dir.join("apiserver.log")).unwrap_or_default()
        );
    }
    (etcd, apiserver, client)
}

async fn install_crds(client: &Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in [PodChaos::crd(), NetworkChaos::crd(), KernelChaos::crd()] {
        let name = crd.metadata.name.clone().unwrap();
        crds.patch(
            &name,
            &PatchParams::apply("test").force(),
            &Patch::Apply(&crd),
        )
        .await
        .unwrap();
        tokio::time::timeout(
            Duration::from_secs(30),
            await_condition(crds.clone(), &name, conditions::is_crd_established()),
        )
        .await
        .expect("CRD established")
        .unwrap();
    }
    let namespaces: Api<Namespace> = Api::all(client.clone());
    for ns in ["usactar-api", "usactar-pipeline"] {
        let object: Namespace = serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap();
        namespaces
            .create(&PostParams::default(), &object)
            .await
            .unwrap();
    }
}

fn status(conditions: &[(&str, &str)]) -> serde_json::Value {
    let status = ChaosStatus {
        conditions: conditions
            .iter()
            .map(|(t, s)| ChaosCondition {
                type_: (*t).into(),
                status: (*s).into(),
                reason: None,
            })
            .collect(),
        experiment: None,
    };
    json!({ "status": status })
}

/// Stands in for Chaos Mesh: once the object exists, marks it injected, then recovered.
async fn fake_controller<K>(api: Api<K>, name: String, recover_after: Duration)
where
    K: Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + 'static,
{
    tokio::time::timeout(
        Duration::from_secs(30),
        await_condition(api.clone(), &name, |o: Option<&K>| o.is_some()),
    )
    .await
    .unwrap()
    .unwrap();
    let pp = PatchParams::default();
    api.patch_status(
        &name,
        &pp,
        &Patch::Merge(status(&[("Selected", "True"), ("AllInjected", "True")])),
    )
    .await
    .unwrap();
    tokio::time::sleep(recover_after).await;
    api.patch_status(
        &name,
        &pp,
        &Patch::Merge(status(&[
            ("Selected", "True"),
            ("AllInjected", "False"),
            ("AllRecovered", "True"),
        ])),
    )
    .await
    .unwrap();
}

async fn set_ready(api: &Api<Deployment>, ready: i32) {
    api.patch_status(
        "read-api",
        &PatchParams::default(),
        &Patch::Merge(
            json!({"status": {"replicas": 1, "readyReplicas": ready, "availableReplicas": ready}}),
        ),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn faults_are_applied_waited_on_and_cleaned_up() {
    let dir = tempfile::tempdir().unwrap();
    let (_etcd, _apiserver, client) = start(dir.path()).await;
    install_crds(&client).await;
    let mut target = KubeTarget::new(client.clone(), client.clone(), Placement::default());
    target.inject_timeout = Duration::from_secs(20);
    let params = Params {
        run_id: "envtest".into(),
        external_targets: vec!["172.18.0.3".into()],
        ..Params::default()
    };

    // A fault with a duration: AllInjected, then AllRecovered.
    let network: Api<NetworkChaos> = Api::namespaced(client.clone(), "usactar-pipeline");
    let name = "usactar-netdelay-envtest".to_owned();
    let controller = tokio::spawn(fake_controller(
        network.clone(),
        name.clone(),
        Duration::from_secs(2),
    ));
    let injected = target.inject(Scenario::NetDelay, &params).await.unwrap();
    assert_eq!(injected.name, name);
    let applied = network.get(&name).await.unwrap();
    // Server-side apply: the fields are owned by the experiments' field manager.
    assert!(applied
        .metadata
        .managed_fields
        .unwrap_or_default()
        .iter()
        .any(|m| m.manager.as_deref() == Some(FIELD_MANAGER)));
    assert_eq!(applied.spec.delay.unwrap().latency, "200ms");
    target
        .wait_recovered(&injected, Duration::from_secs(20))
        .await
        .unwrap();
    controller.await.unwrap();
    target.cleanup(&injected).await.unwrap();
    assert!(network.get_opt(&name).await.unwrap().is_none());
    // Idempotent: a second cleanup (Ctrl-C after a normal end) is not an error.
    target.cleanup(&injected).await.unwrap();

    // Never injected (no controller): a timeout error, and the object is gone.
    target.inject_timeout = Duration::from_secs(3);
    let err = target
        .inject(Scenario::PodFailure(Workload::ReadApi), &params)
        .await
        .unwrap_err();
    assert!(matches!(err, chaos::Error::Timeout { .. }), "{err}");
    let pods: Api<PodChaos> = Api::namespaced(client.clone(), "usactar-api");
    assert!(pods
        .get_opt("usactar-podfailure-read-api-envtest")
        .await
        .unwrap()
        .is_none());

    // A one-shot kill: recovery is the Deployment being ready again after a dip.
    target.inject_timeout = Duration::from_secs(20);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "usactar-api");
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "read-api"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app.kubernetes.io/name": "read-api"}},
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": "read-api"}},
                "spec": {"containers": [{"name": "read-api", "image": "usactar/read-api:dev"}]}
            }
        }
    }))
    .unwrap();
    deployments
        .create(&PostParams::default(), &deployment)
        .await
        .unwrap();
    set_ready(&deployments, 1).await;
    let controller = tokio::spawn(fake_controller(
        pods.clone(),
        "usactar-podkill-read-api-envtest".into(),
        Duration::from_secs(60),
    ));
    let injected = target
        .inject(Scenario::PodKill(Workload::ReadApi), &params)
        .await
        .unwrap();
    let guard = target.guard(&injected);
    let flip = {
        let deployments = deployments.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            set_ready(&deployments, 0).await;
            tokio::time::sleep(Duration::from_secs(2)).await;
            set_ready(&deployments, 1).await;
        })
    };
    target
        .wait_recovered(&injected, Duration::from_secs(20))
        .await
        .unwrap();
    flip.await.unwrap();
    guard.cleanup().await.unwrap();
    assert!(pods
        .get_opt("usactar-podkill-read-api-envtest")
        .await
        .unwrap()
        .is_none());
    controller.abort();

    // cleanup_all finds what a crashed run left behind, by label.
    target.inject_timeout = Duration::from_secs(1);
    let leftover = chaos::build(
        Scenario::ContainerKill(Container::LiveForwarder),
        &Placement::default(),
        &params,
    );
    let chaos::ChaosObject::Pod(object) = leftover else {
        unreachable!()
    };
    let pipeline: Api<PodChaos> = Api::namespaced(client.clone(), "usactar-pipeline");
    pipeline
        .patch(
            "usactar-containerkill-live-forwarder-envtest",
            &PatchParams::apply(FIELD_MANAGER),
            &Patch::Apply(&object),
        )
        .await
        .unwrap();
    target.cleanup_all().await.unwrap();
    assert!(pipeline
        .get_opt("usactar-containerkill-live-forwarder-envtest")
        .await
        .unwrap()
        .is_none());
}
