//! The contract in `openapi.yaml`: its routes, and response checking against its schemas (JSON Schema 2020-12).

use std::collections::BTreeSet;
use std::path::PathBuf;

use regex::Regex;
use reqwest::Method;
use serde_json::Value;

/// One documented operation.
struct Operation {
    method: String,
    template: String,
    pattern: Regex,
    responses: Value,
}

/// The parsed document.
pub struct OpenApi {
    document: Value,
    operations: Vec<Operation>,
}

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

impl OpenApi {
    /// Reads `openapi.yaml` at the top of the repository.
    pub fn load() -> anyhow::Result<Self> {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../openapi.yaml");
        let text = std::fs::read_to_string(&path)?;
        let document: Value = serde_yaml_ng::from_str(&text)?;
        let mut operations = Vec::new();
        let paths = document["paths"].as_object().ok_or_else(|| anyhow::anyhow!("openapi.yaml has no paths"))?;
        let parameter = Regex::new(r"\{[^}]+\}")?;
        for (template, item) in paths {
            let pattern = format!("^{}$", parameter.replace_all(template, "[^/]+"));
            for method in METHODS {
                if let Some(operation) = item.get(method) {
                    operations.push(Operation {
                        method: method.to_uppercase(),
                        template: template.clone(),
                        pattern: Regex::new(&pattern)?,
                        responses: operation["responses"].clone(),
                    });
                }
            }
        }
        Ok(Self { document, operations })
    }

    /// Every (METHOD, path template) the document describes.
    pub fn routes(&self) -> BTreeSet<(String, String)> {
        self.operations.iter().map(|op| (op.method.clone(), op.template.clone())).collect()
    }

    /// The raw document.
    pub fn document(&self) -> &Value {
        &self.document
    }

    fn resolve<'a>(&'a self, value: &'a Value) -> &'a Value {
        match value.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let pointer = reference.trim_start_matches('#');
                self.document.pointer(pointer).unwrap_or(value)
            }
            None => value,
        }
    }

    /// Validates `instance` against a schema (inline or `$ref`), resolving refs into `components`.
    pub fn validate(&self, schema: &Value, instance: &Value) -> Result<(), Vec<String>> {
        let mut root = schema.clone();
        if let Some(object) = root.as_object_mut() {
            object.insert("components".into(), self.document["components"].clone());
        }
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&root)
            .map_err(|e| vec![format!("schema does not compile: {e}")])?;
        let errors: Vec<String> =
            validator.iter_errors(instance).map(|e| format!("{} at {}", e, e.instance_path)).collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Validates against `#/components/schemas/<name>`.
    pub fn validate_component(&self, name: &str, instance: &Value) -> Result<(), Vec<String>> {
        self.validate(&serde_json::json!({ "$ref": format!("#/components/schemas/{name}") }), instance)
    }

    /// Panics unless the response's status is documented for the operation and its body fits the schema.
    pub fn check_response(
        &self,
        method: &Method,
        path: &str,
        status: u16,
        headers: &reqwest::header::HeaderMap,
        body: &[u8],
    ) {
        let media_type = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or_default().trim().to_owned())
            .unwrap_or_default();
        // The console's pages are HTML for people, not part of the API contract.
        let path_only = path.split('?').next().unwrap_or(path);
        if !path_only.starts_with("/api/") && media_type == "text/html" {
            return;
        }
        let operation = self.operations.iter().find(|op| op.method == method.as_str() && op.pattern.is_match(path));
        let Some(operation) = operation else {
            // Not a documented route (404/405 fallbacks): the body must still be a problem.
            assert_eq!(media_type, "application/problem+json", "{method} {path} answered {status} without a problem");
            let instance: Value = serde_json::from_slice(body).expect("problem body is JSON");
            if let Err(errors) = self.validate_component("Problem", &instance) {
                panic!("{method} {path} -> {status}: problem does not match the schema: {errors:?}");
            }
            return;
        };
        let response = operation
            .responses
            .get(status.to_string())
            .or_else(|| operation.responses.get("default"))
            .unwrap_or_else(|| panic!("{method} {} does not document status {status}", operation.template));
        let response = self.resolve(response);
        let Some(content) = response.get("content") else {
            assert!(body.is_empty(), "{method} {path} -> {status}: body where the spec has none");
            return;
        };
        let media = content.get(&media_type).unwrap_or_else(|| {
            panic!("{method} {} -> {status}: media type {media_type:?} not documented", operation.template)
        });
        // Streams and text (watch, metrics) are checked by their own tests; JSON bodies against the schema.
        if !media_type.ends_with("json") {
            return;
        }
        let instance: Value = serde_json::from_slice(body)
            .unwrap_or_else(|e| panic!("{method} {path} -> {status}: body is not JSON: {e}"));
        if let Some(schema) = media.get("schema") {
            if let Err(errors) = self.validate(schema, &instance) {
                panic!("{method} {path} -> {status}: body does not match openapi.yaml: {errors:#?}\nbody: {instance}");
            }
        }
    }
}
