//! The objects the builders make, checked against Chaos Mesh's own CRD schemas.
//!
//! The schema below is a trimmed transcription of the `spec` of Chaos Mesh's CRDs (chaos-mesh/
//! chaos-mesh, `config/crd/bases/chaos-mesh.org_podchaos.yaml`, `..._networkchaos.yaml`,
//! `..._kernelchaos.yaml`, v1alpha1, Apache-2.0): every field name of `spec` and of the pod
//! selector, the enums (`action`, `mode`, `direction`), the required fields and the integer
//! bounds. Descriptions and status are left out. Unknown fields are errors here, stricter than
//! the API server: a structural CRD silently prunes a misspelled field, which would turn a fault
//! into a no-op, and that is exactly what this test must catch.

use chaos::{build, Container, Params, Placement, Scenario, Workload};
use serde_json::{json, Value};
use std::time::Duration;

fn string() -> Value {
    json!({"type": "string"})
}

fn string_map() -> Value {
    json!({"type": "object", "additionalProperties": {"type": "string"}})
}

fn strings() -> Value {
    json!({"type": "array", "items": {"type": "string"}})
}

fn modes() -> Value {
    json!({"type": "string", "enum": ["one", "all", "fixed", "fixed-percent", "random-max-percent"]})
}

fn selector() -> Value {
    json!({
        "type": "object",
        "properties": {
            "annotationSelectors": string_map(),
            "expressionSelectors": {"type": "array", "items": {
                "type": "object",
                "required": ["key", "operator"],
                "properties": {"key": string(), "operator": string(), "values": strings()}
            }},
            "fieldSelectors": string_map(),
            "labelSelectors": string_map(),
            "namespaces": strings(),
            "nodeSelectors": string_map(),
            "nodes": strings(),
            "podPhaseSelectors": strings(),
            "pods": {"type": "object", "additionalProperties": strings()}
        }
    })
}

fn metadata_and(kind: &str, spec: Value) -> Value {
    json!({
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"type": "string", "enum": ["chaos-mesh.org/v1alpha1"]},
            "kind": {"type": "string", "enum": [kind]},
            "metadata": {"type": "object", "required": ["name", "namespace"], "additionalProperties": true},
            "spec": spec
        }
    })
}

fn pod_chaos() -> Value {
    metadata_and(
        "PodChaos",
        json!({
            "type": "object",
            "required": ["action", "mode", "selector"],
            "properties": {
                "action": {"type": "string", "enum": ["pod-kill", "pod-failure", "container-kill"]},
                "containerNames": strings(),
                "duration": string(),
                "gracePeriod": {"type": "integer", "minimum": 0},
                "mode": modes(),
                "remoteCluster": string(),
                "selector": selector(),
                "value": string()
            }
        }),
    )
}

fn network_chaos() -> Value {
    metadata_and(
        "NetworkChaos",
        json!({
            "type": "object",
            "required": ["action", "mode", "selector"],
            "properties": {
                "action": {"type": "string", "enum": ["netem", "delay", "loss", "duplicate", "corrupt", "partition", "bandwidth"]},
                "bandwidth": {"type": "object", "required": ["buffer", "limit", "rate"], "properties": {
                    "buffer": {"type": "integer", "minimum": 1}, "limit": {"type": "integer", "minimum": 1},
                    "minburst": {"type": "integer", "minimum": 0}, "peakrate": {"type": "integer", "minimum": 0},
                    "rate": string()}},
                "corrupt": {"type": "object", "required": ["corrupt"], "properties": {"corrupt": string(), "correlation": string()}},
                "delay": {"type": "object", "required": ["latency"], "properties": {
                    "latency": string(), "jitter": string(), "correlation": string(),
                    "reorder": {"type": "object", "required": ["gap", "reorder"], "properties": {
                        "correlation": string(), "gap": {"type": "integer"}, "reorder": string()}}}},
                "device": string(),
                "direction": {"type": "string", "enum": ["to", "from", "both", ""]},
                "duplicate": {"type": "object", "required": ["duplicate"], "properties": {"duplicate": string(), "correlation": string()}},
                "duration": string(),
                "externalTargets": strings(),
                "loss": {"type": "object", "required": ["loss"], "properties": {"loss": string(), "correlation": string()}},
                "mode": modes(),
                "remoteCluster": string(),
                "selector": selector(),
                "target": {"type": "object", "required": ["mode", "selector"], "properties": {
                    "mode": modes(), "selector": selector(), "value": string()}},
                "targetDevice": string(),
                "value": string()
            }
        }),
    )
}

fn kernel_chaos() -> Value {
    metadata_and(
        "KernelChaos",
        json!({
            "type": "object",
            "required": ["failKernRequest", "mode", "selector"],
            "properties": {
                "duration": string(),
                "failKernRequest": {"type": "object", "required": ["failtype"], "properties": {
                    "callchain": {"type": "array", "items": {"type": "object", "properties": {
                        "funcname": string(), "parameters": string(), "predicate": string()}}},
                    "failtype": {"type": "integer", "minimum": 0, "maximum": 2},
                    "headers": strings(),
                    "probability": {"type": "integer", "minimum": 0, "maximum": 100},
                    "times": {"type": "integer", "minimum": 0}}},
                "mode": modes(),
                "remoteCluster": string(),
                "selector": selector(),
                "value": string()
            }
        }),
    )
}

/// The subset of OpenAPI v3 structural schemas the CRDs above use.
fn validate(schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    let ty = schema["type"].as_str().unwrap_or("");
    let type_ok = match ty {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "" => true,
        other => panic!("schema type {other} not handled"),
    };
    if !type_ok {
        errors.push(format!("{path}: expected {ty}, got {value}"));
        return;
    }
    if let Some(allowed) = schema["enum"].as_array() {
        if !allowed.contains(value) {
            errors.push(format!("{path}: {value} not one of {allowed:?}"));
        }
    }
    if let Some(n) = value.as_i64() {
        if schema["minimum"].as_i64().is_some_and(|min| n < min) {
            errors.push(format!("{path}: {n} below the minimum"));
        }
        if schema["maximum"].as_i64().is_some_and(|max| n > max) {
            errors.push(format!("{path}: {n} above the maximum"));
        }
    }
    if let Some(items) = value.as_array() {
        for (i, item) in items.iter().enumerate() {
            validate(&schema["items"], item, &format!("{path}[{i}]"), errors);
        }
    }
    let Some(object) = value.as_object() else {
        return;
    };
    for required in schema["required"].as_array().into_iter().flatten() {
        let key = required.as_str().unwrap();
        if !object.contains_key(key) {
            errors.push(format!("{path}: missing required field {key}"));
        }
    }
    let properties = schema["properties"].as_object();
    for (key, child) in object {
        let child_path = format!("{path}.{key}");
        match (
            properties.and_then(|p| p.get(key)),
            &schema["additionalProperties"],
        ) {
            (Some(s), _) => validate(s, child, &child_path, errors),
            (None, Value::Bool(true)) => {}
            (None, additional @ Value::Object(_)) => {
                validate(additional, child, &child_path, errors)
            }
            (None, _) => errors.push(format!("{child_path}: not a field of the CRD")),
        }
    }
}

fn errors(schema: &Value, value: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    validate(schema, value, "", &mut errors);
    errors
}

fn schema_for(kind: &str) -> Value {
    match kind {
        "PodChaos" => pod_chaos(),
        "NetworkChaos" => network_chaos(),
        "KernelChaos" => kernel_chaos(),
        other => panic!("no schema for {other}"),
    }
}

fn params() -> Params {
    Params {
        duration: Duration::from_secs(45),
        latency: Duration::from_millis(250),
        jitter: Duration::from_millis(40),
        external_targets: vec!["172.18.0.3".into()],
        rate_bytes_s: 65536,
        kernel_probability: 150, // out of range on purpose: the builder clamps it
        run_id: "t1".into(),
    }
}

#[test]
fn every_scenario_matches_chaos_mesh_crd_schema() {
    for scenario in Scenario::ALL {
        let object = build(scenario, &Placement::default(), &params()).to_json();
        let kind = object["kind"].as_str().unwrap();
        let found = errors(&schema_for(kind), &object);
        assert!(found.is_empty(), "{scenario}: {found:#?}\n{object:#}");
    }
}

#[test]
fn the_semantic_rules_the_schema_cannot_express_hold() {
    let p = Placement::default();
    let pod_failure = build(Scenario::PodFailure(Workload::ReadApi), &p, &params()).to_json();
    // Chaos Mesh: "duration ... is required when the action is PodFailureAction".
    assert_eq!(pod_failure["spec"]["duration"], "45s");
    let container_kill = build(
        Scenario::ContainerKill(Container::LiveForwarder),
        &p,
        &params(),
    )
    .to_json();
    assert_eq!(
        container_kill["spec"]["containerNames"],
        json!(["live-forwarder"])
    );
    let pod_kill = build(Scenario::PodKill(Workload::ReadApi), &p, &params()).to_json();
    // One-shot: a duration would be ignored, and misleading in the report.
    assert!(pod_kill["spec"].get("duration").is_none());
    // Modes that need a value are not used without one.
    for scenario in Scenario::ALL {
        let spec = build(scenario, &p, &params()).to_json()["spec"].clone();
        let needs_value = ["fixed", "fixed-percent", "random-max-percent"]
            .contains(&spec["mode"].as_str().unwrap());
        assert_eq!(needs_value, spec.get("value").is_some(), "{scenario}");
    }
}

#[test]
fn the_validator_rejects_what_the_crd_rejects() {
    let object = build(
        Scenario::PodKill(Workload::ReadApi),
        &Placement::default(),
        &params(),
    )
    .to_json();
    let schema = pod_chaos();

    let mut bad = object.clone();
    bad["spec"]["action"] = json!("pod-explode");
    assert!(errors(&schema, &bad)[0].contains("not one of"));

    let mut bad = object.clone();
    bad["spec"].as_object_mut().unwrap().remove("selector");
    assert!(errors(&schema, &bad)[0].contains("missing required field selector"));

    let mut bad = object.clone();
    bad["spec"]["containerName"] = json!("typo"); // the pre-2.0 singular field
    assert!(errors(&schema, &bad)[0].contains("not a field"));

    let mut bad = build(Scenario::NetDelay, &Placement::default(), &params()).to_json();
    bad["spec"]["direction"] = json!("sideways");
    assert!(!errors(&network_chaos(), &bad).is_empty());

    let mut bad = build(Scenario::Kernel, &Placement::default(), &params()).to_json();
    bad["spec"]["failKernRequest"]["failtype"] = json!(3);
    assert!(errors(&kernel_chaos(), &bad)[0].contains("above the maximum"));
}
