//! What each scenario applies to a cluster, as JSON: a change to a fault shows up in review.

use std::time::Duration;

use chaos::{build, Params, Placement, Scenario};

#[test]
fn scenarios_render_as_reviewed() {
    let params = Params {
        duration: Duration::from_secs(30),
        latency: Duration::from_millis(200),
        jitter: Duration::from_millis(50),
        external_targets: vec!["172.18.0.3".into()],
        rate_bytes_s: 65536,
        kernel_probability: 10,
        run_id: "0190b2c4".into(),
    };
    for scenario in Scenario::ALL {
        let object = build(scenario, &Placement::default(), &params).to_json();
        // serde_json keeps insertion order when another crate of the workspace enables its
        // preserve_order feature; sorting makes the snapshot the same either way.
        insta::with_settings!({sort_maps => true}, {
            insta::assert_json_snapshot!(scenario.name(), object);
        });
    }
}

#[test]
fn scenario_names_round_trip() {
    for scenario in Scenario::ALL {
        assert_eq!(scenario.name().parse::<Scenario>().unwrap(), scenario);
        // Reports store the scenario by the same name.
        let json = serde_json::to_value(scenario).unwrap();
        assert_eq!(json, scenario.name());
        assert_eq!(serde_json::from_value::<Scenario>(json).unwrap(), scenario);
    }
    assert!("podexplode".parse::<Scenario>().is_err());
}

#[test]
fn durations_read_as_go_durations() {
    assert_eq!(chaos::go_duration(Duration::from_secs(90)), "90s");
    assert_eq!(chaos::go_duration(Duration::from_millis(1500)), "1500ms");
}

#[test]
fn the_kube_derive_names_match_chaos_mesh_plurals() {
    use kube::Resource;
    assert_eq!(chaos::crd::PodChaos::plural(&()), "podchaos");
    assert_eq!(chaos::crd::NetworkChaos::plural(&()), "networkchaos");
    assert_eq!(chaos::crd::KernelChaos::plural(&()), "kernelchaos");
    assert_eq!(
        chaos::crd::PodChaos::api_version(&()),
        "chaos-mesh.org/v1alpha1"
    );
}
