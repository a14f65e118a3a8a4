//! What the handlers' annotations cannot say, added to the generated OpenAPI document:
//! the real constraints of fields and parameters (patterns, lengths, ranges, enums, the
//! "this or that" requirements), every status code a call can answer with the error
//! body's schema, the signature headers and the nonce. The constraints here are the ones
//! the services check (`service::*`, `domain::number`); a change to either side is
//! caught by `scripts/schemathesis.sh`, which holds the server to this document.
use serde_json::{Map, Value, json};

/// A registration number or coupon code as the server accepts it (any prefix of 1–16
/// letters or digits, four groups of five; case and surrounding spaces do not matter).
pub const NUMBER_PATTERN: &str = "^ *[A-Za-z0-9]{1,16}(-[A-Za-z0-9]{5}){4} *$";
/// Some character that is not white space (a required text). Rust's `trim` also takes
/// U+0085 (NEL), which the `\s` of JSON Schema's regular expressions does not.
const NOT_BLANK: &str = "[^\\s\\x85]";
/// An e-mail address of the usual shape (the server accepts a little more).
const EMAIL: &str = "^ *[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(\\.[A-Za-z0-9-]{1,63})+ *$";
const EMAIL_OR_EMPTY: &str =
    "^$|^ *[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(\\.[A-Za-z0-9-]{1,63})+ *$";
/// An RFC 3339 time (days up to 28 so that every month has them).
const TIME: &str = "^(19|20)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9])$";
const DAY: &str = "^(19|20)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])$";
const U32_MAX: u64 = u32::MAX as u64;
/// Headers every `/api/v1` answer carries.
const SIGNED_HEADERS: [(&str, &str); 3] = [
    (
        "Licd-Signature",
        "Base64 Ed25519 signature of the exact body bytes by the current signing key",
    ),
    (
        "Licd-Key-Id",
        "Which key of GET /api/v1/signing-key made Licd-Signature",
    ),
    (
        "Licd-Signature-Previous",
        "While a rotation's overlap lasts: the same body signed by the previous key",
    ),
];

/// The channels as the server reads them: any case, spaces around, empty for stable.
fn channel_pattern() -> String {
    let any_case = |w: &str| -> String {
        w.chars()
            .map(|c| format!("[{}{}]", c.to_ascii_uppercase(), c))
            .collect()
    };
    let words: Vec<String> = ["stable", "rc", "beta", "alpha", "dev"]
        .iter()
        .map(|w| any_case(w))
        .collect();
    format!("^ *(|{}) *$", words.join("|"))
}

fn text(max: u64) -> Value {
    json!({ "pattern": NOT_BLANK, "maxLength": max })
}

/// Field constraints by component schema and property.
fn properties() -> Vec<(&'static str, &'static str, Value)> {
    let number = json!({ "pattern": NUMBER_PATTERN });
    let seats = json!({ "minimum": 1, "maximum": U32_MAX });
    let feature = json!({ "minimum": 0, "maximum": U32_MAX });
    vec![
        ("ActivateInput", "regnum", number.clone()),
        ("ActivateInput", "coupon", number.clone()),
        ("CaptureInput", "regnum", number.clone()),
        ("CaptureInput", "feature", feature.clone()),
        ("CaptureInput", "host", text(255)),
        ("CaptureInput", "database", json!({ "maxLength": 255 })),
        ("CaptureInput", "user", json!({ "maxLength": 255 })),
        ("CaptureInput", "session", json!({ "maxLength": 255 })),
        ("CaptureInput", "app", json!({ "maxLength": 255 })),
        ("CaptureInput", "version", json!({ "maxLength": 255 })),
        ("TrialInput", "product", text(1000)),
        ("TrialInput", "host", text(1000)),
        (
            "TrialInput",
            "regnum",
            json!({ "pattern": "^ *$|^ *[A-Za-z0-9]{1,16}(-[A-Za-z0-9]{5}){4} *$" }),
        ),
        ("TrialInput", "company", json!({ "maxLength": 1000 })),
        ("TrialInput", "contact", json!({ "maxLength": 1000 })),
        ("TrialInput", "phone", json!({ "maxLength": 1000 })),
        (
            "TrialInput",
            "email",
            json!({ "maxLength": 254, "pattern": EMAIL_OR_EMPTY }),
        ),
        ("ClientInput", "company", text(1000)),
        ("ClientInput", "contact", json!({ "maxLength": 1000 })),
        ("ClientInput", "phone", json!({ "maxLength": 1000 })),
        ("ClientInput", "crm_id1", json!({ "maxLength": 1000 })),
        ("ClientInput", "crm_id2", json!({ "maxLength": 1000 })),
        ("ClientInput", "manager", json!({ "maxLength": 1000 })),
        ("ClientInput", "distributor", json!({ "maxLength": 1000 })),
        ("ClientInput", "comment", json!({ "maxLength": 20_000 })),
        (
            "ClientInput",
            "email",
            json!({ "maxLength": 254, "pattern": EMAIL_OR_EMPTY }),
        ),
        (
            "ClientInput",
            "alert_email",
            json!({ "maxLength": 254, "pattern": EMAIL_OR_EMPTY }),
        ),
        (
            "ClientInput",
            "extra",
            json!({
                "additionalProperties": { "type": "string", "maxLength": 1000 },
                "propertyNames": { "pattern": NOT_BLANK, "maxLength": 100 },
            }),
        ),
        ("NewGrant", "seats", seats.clone()),
        ("NewGrant", "feature", feature.clone()),
        ("NewGrant", "expires_at", json!({ "pattern": TIME })),
        ("GrantChange", "seats", seats.clone()),
        ("GrantChange", "expires_at", json!({ "pattern": TIME })),
        ("UnbindInput", "host", text(255)),
        ("UnbindInput", "feature", feature.clone()),
        (
            "NewCoupons",
            "count",
            json!({ "minimum": 1, "maximum": 10_000 }),
        ),
        ("NewCoupons", "items", json!({ "minItems": 1 })),
        ("MergeInput", "from", json!({ "minItems": 1 })),
        ("NewCouponItem", "seats", seats.clone()),
        ("NewCouponItem", "feature", feature.clone()),
        (
            "NewCouponItem",
            "days",
            json!({ "minimum": 1, "maximum": U32_MAX }),
        ),
        (
            "NewDistributor",
            "code",
            // Letters and digits of any script (`\\w`), as the server takes them.
            json!({ "pattern": "^ *[\\w.-]{1,40} *$" }),
        ),
        (
            "NewDistributor",
            "name",
            json!({ "pattern": NOT_BLANK, "maxLength": 200 }),
        ),
        (
            "NewDistributor",
            "email",
            json!({ "maxLength": 254, "pattern": EMAIL_OR_EMPTY }),
        ),
        (
            "NewUser",
            "login",
            json!({ "pattern": "^ *[\\w.@-]{1,64} *$" }),
        ),
        (
            "NewUser",
            "role",
            json!({ "enum": ["admin", "manager", "distributor"] }),
        ),
        ("NewUser", "password", json!({ "minLength": 8 })),
        (
            "NewUser",
            "email",
            json!({ "maxLength": 254, "pattern": EMAIL_OR_EMPTY }),
        ),
        ("NewToken", "name", text(100)),
        ("NewToken", "role", json!({ "enum": ["admin", "manager"] })),
        (
            "SettingsPatch",
            "regnum_prefix",
            json!({ "pattern": "^ *[A-Za-z0-9]{1,12} *$" }),
        ),
        (
            "SettingsPatch",
            "offline_license_days",
            json!({ "minimum": 1, "maximum": 366 }),
        ),
        (
            "SettingsPatch",
            "vendor_name",
            json!({ "pattern": NOT_BLANK }),
        ),
        (
            "SettingsPatch",
            "mail_lang",
            json!({ "pattern": "^ *(ru|en) *$" }),
        ),
        (
            "SettingsPatch",
            "expiry_days",
            json!({ "minItems": 1, "maxItems": 5,
                    "items": { "type": "integer", "minimum": 1, "maximum": 365 } }),
        ),
        (
            "RotateInput",
            "overlap_days",
            json!({ "minimum": 1, "maximum": 3650 }),
        ),
        ("NewProduct", "code", text(64)),
        ("NewProduct", "name", json!({ "pattern": NOT_BLANK })),
        (
            "NewProduct",
            "heartbeat_s",
            json!({ "minimum": 5, "maximum": 86_400 }),
        ),
        ("NewFeature", "name", json!({ "pattern": NOT_BLANK })),
        ("NewFeature", "number", feature.clone()),
        ("ProductPatch", "name", json!({ "pattern": NOT_BLANK })),
        (
            "ProductPatch",
            "heartbeat_s",
            json!({ "minimum": 5, "maximum": 86_400 }),
        ),
        ("FeaturePatch", "name", json!({ "pattern": NOT_BLANK })),
        ("FeaturePatch", "number", feature.clone()),
        ("NewTrial", "days", json!({ "minimum": 1, "maximum": 3650 })),
        ("NewTrialItem", "seats", seats.clone()),
        ("NewTrialItem", "feature", feature.clone()),
        ("ReleasePatch", "requires_feature", feature.clone()),
        (
            "ReleasePatch",
            "min_seats",
            json!({ "minimum": 0, "maximum": U32_MAX }),
        ),
        ("ReleaseForm", "product", json!({ "pattern": NOT_BLANK })),
        (
            "ReleaseForm",
            "version",
            json!({ "pattern": "^ *[A-Za-z0-9.+_-]{1,64} *$" }),
        ),
        (
            "ReleaseForm",
            "channel",
            json!({ "type": "string", "pattern": channel_pattern() }),
        ),
        ("ReleaseForm", "file", json!({ "minLength": 1 })),
        (
            "ReleaseForm",
            "$self",
            json!({ "additionalProperties": false }),
        ),
        ("ReleaseForm", "changelog", json!({ "type": "string" })),
        // A form's fields are text, left out when not wanted (never "null").
        (
            "ReleaseForm",
            "requires_feature",
            json!({ "type": "integer", "minimum": 0, "maximum": U32_MAX }),
        ),
        (
            "ReleaseForm",
            "min_seats",
            json!({ "type": "integer", "minimum": 0, "maximum": U32_MAX }),
        ),
    ]
}

/// Requirements of one field or another, beyond the plain `required` lists.
fn alternatives() -> Vec<(&'static str, Value)> {
    vec![
        (
            // A new client gives its card; an existing key gives its number.
            "TrialInput",
            json!({ "anyOf": [
                { "required": ["regnum"],
                  "properties": { "regnum": { "type": "string", "pattern": NUMBER_PATTERN } } },
                { "required": ["company", "contact", "phone", "email"],
                  "properties": {
                      "company": { "type": "string", "pattern": NOT_BLANK },
                      "contact": { "type": "string", "pattern": NOT_BLANK },
                      "phone": { "type": "string", "pattern": NOT_BLANK },
                      "email": { "type": "string", "pattern": EMAIL } } },
            ] }),
        ),
        (
            // Without a password the user is mailed a link to set one; a distributor
            // user names its distributor.
            "NewUser",
            json!({ "allOf": [
                { "anyOf": [
                    { "required": ["password"], "properties": { "password": { "type": "string" } } },
                    { "required": ["email"], "properties": { "email": { "type": "string", "pattern": EMAIL } } },
                ] },
                { "anyOf": [
                    { "properties": { "role": { "enum": ["admin", "manager"] } } },
                    { "required": ["distributor"],
                      "properties": { "distributor": { "type": "string", "pattern": NOT_BLANK } } },
                ] },
            ] }),
        ),
    ]
}

/// Query and path parameters by name (every operation that has one), then by operation.
fn parameters() -> Vec<(Option<&'static str>, &'static str, Value)> {
    let number = json!({ "type": "string", "pattern": NUMBER_PATTERN });
    vec![
        (None, "regnum", number),
        (
            None,
            "limit",
            json!({ "type": "integer", "minimum": 1, "maximum": 1000 }),
        ),
        (
            None,
            "offset",
            json!({ "type": "integer", "minimum": 0, "maximum": u64::MAX }),
        ),
        (None, "from", json!({ "type": "string", "pattern": DAY })),
        (None, "to", json!({ "type": "string", "pattern": DAY })),
        (
            None,
            "channel",
            json!({ "type": "string", "pattern": channel_pattern() }),
        ),
        (
            Some("list_leases"),
            "regnum",
            json!({ "type": "string", "pattern": "^ *$|^ *[A-Za-z0-9]{1,16}(-[A-Za-z0-9]{5}){4} *$" }),
        ),
        (
            Some("list_leases"),
            "limit",
            json!({ "type": "integer", "minimum": 1, "maximum": 10_000 }),
        ),
        (
            Some("get_diag"),
            "feature",
            json!({ "type": "integer", "minimum": 0, "maximum": U32_MAX }),
        ),
    ]
}

fn merge(target: &mut Value, patch: &Value) {
    if let (Value::Object(t), Value::Object(p)) = (target, patch) {
        for (k, v) in p {
            t.insert(k.clone(), v.clone());
        }
    }
}

fn object(v: &mut Value) -> &mut Map<String, Value> {
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    v.as_object_mut().expect("made an object above")
}

/// Adds the rules to the generated document.
pub fn refine(doc: &mut Value) {
    let schemas = &mut doc["components"]["schemas"];
    for (schema, prop, patch) in properties() {
        let p = if prop == "$self" {
            &mut schemas[schema]
        } else {
            &mut schemas[schema]["properties"][prop]
        };
        debug_assert!(p.is_object(), "{schema}.{prop} is not in the document");
        merge(p, &patch);
    }
    for (schema, patch) in alternatives() {
        merge(&mut schemas[schema], &patch);
    }
    object(schemas).insert(
        "ErrorBody".into(),
        json!({
            "type": "object",
            "description": "Every error: the contract's code, a message in the request's language (Accept-Language, ru or en) and what was wrong",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message", "details"],
                    "properties": {
                        "code": { "type": "integer", "minimum": 1000 },
                        "message": { "type": "string" },
                        "details": { "type": "object" },
                    },
                },
                "nonce": { "type": "string", "description": "The request's Licd-Nonce, on /api/v1" },
            },
        }),
    );
    let params = parameters();
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for (path, ops) in paths.iter_mut() {
        let Some(ops) = ops.as_object_mut() else {
            continue;
        };
        for (method, op) in ops.iter_mut() {
            refine_operation(path, method, op, &params);
        }
    }
    unsigned(doc);
}

/// Rust's unsigned integers: utoipa writes `u32` as `int32` (which caps it at 2^31 − 1)
/// and `u64` as `int64`; the real ranges are 0 to 2^32 − 1 and 0 to 2^64 − 1.
fn unsigned(v: &mut Value) {
    match v {
        Value::Object(m) => {
            let from_zero = m.get("minimum").and_then(Value::as_u64) == Some(0);
            let format = m.get("format").and_then(Value::as_str).map(str::to_owned);
            if from_zero && let Some(f @ ("int32" | "int64")) = format.as_deref() {
                let max = if f == "int32" { U32_MAX } else { u64::MAX };
                m.remove("format");
                m.entry("maximum").or_insert(json!(max));
            }
            m.values_mut().for_each(unsigned);
        }
        Value::Array(a) => a.iter_mut().for_each(unsigned),
        _ => {}
    }
}

/// A request body that is a component with more required of it here.
fn body_requires(op: &mut Value, required: &[&str]) {
    let schema = &mut op["requestBody"]["content"]["application/json"]["schema"];
    let props: Map<String, Value> = required
        .iter()
        .map(|r| {
            (
                (*r).to_owned(),
                json!({ "type": "string", "pattern": NOT_BLANK }),
            )
        })
        .collect();
    *schema = json!({ "allOf": [schema.clone(), { "required": required, "properties": props }] });
}

fn refine_operation(
    path: &str,
    method: &str,
    op: &mut Value,
    params: &[(Option<&'static str>, &'static str, Value)],
) {
    let id = op["operationId"].as_str().unwrap_or("").to_owned();
    let admin = path.starts_with("/api/admin/");
    let signed = path.starts_with("/api/v1/");
    let has_input = op.get("requestBody").is_some()
        || op
            .get("parameters")
            .and_then(Value::as_array)
            .is_some_and(|p| !p.is_empty());
    if let Some(list) = op.get_mut("parameters").and_then(Value::as_array_mut) {
        for p in list.iter_mut() {
            let name = p["name"].as_str().unwrap_or("").to_owned();
            let rule = params
                .iter()
                .find(|(o, n, _)| *o == Some(id.as_str()) && *n == name)
                .or_else(|| params.iter().find(|(o, n, _)| o.is_none() && *n == name));
            if let Some((_, _, schema)) = rule {
                p["schema"] = schema.clone();
            }
            if id == "get_diag" && name == "feature" {
                p["required"] = json!(true);
            }
        }
    }
    if id == "create_client" {
        body_requires(op, &["company"]);
    }
    if signed {
        let list = op.get_mut("parameters").and_then(Value::as_array_mut);
        let nonce = json!({
            "name": "Licd-Nonce", "in": "header", "required": false,
            "description": "Echoed as `nonce` in the signed body, so a replayed answer is detected",
            "schema": { "type": "string", "pattern": "^[!-~]{1,64}$" },
        });
        match list {
            Some(l) => l.push(nonce),
            None => op["parameters"] = json!([nonce]),
        }
    }
    let has_body = op.get("requestBody").is_some();
    let responses = object(&mut op["responses"]);
    let mut codes: Vec<&str> = Vec::new();
    if has_input || signed {
        codes.push("400");
    }
    if admin {
        codes.extend(["401", "403"]);
    }
    // A path names something, or a body refers to something (a product, a distributor).
    if path.contains('{') || (admin && has_body) {
        codes.push("404");
    }
    if method == "post" || method == "patch" {
        codes.push("413");
    }
    if signed && !id.contains("heartbeat") && id != "delete_lease" && id != "get_signing_key" {
        codes.push("429");
    }
    for c in codes {
        responses
            .entry(c)
            .or_insert_with(|| json!({ "description": "" }));
    }
    for (code, r) in responses.iter_mut() {
        let error = code.starts_with('4') || code.starts_with('5');
        if error && code != "304" {
            let r = object(r);
            if r.get("description").and_then(Value::as_str) == Some("") {
                r.insert("description".into(), json!(describe(code)));
            }
            r.insert(
                "content".into(),
                json!({ "application/json": { "schema": { "$ref": "#/components/schemas/ErrorBody" } } }),
            );
        }
        // A release file's own answers are the file's, never gathered or signed.
        let file = path.ends_with("/file") && ["200", "206", "304", "416"].contains(&code.as_str());
        if signed && !file {
            let headers = object(object(r).entry("headers").or_insert(json!({})));
            for (name, what) in SIGNED_HEADERS {
                headers.insert(
                    name.into(),
                    json!({ "description": what, "schema": { "type": "string" } }),
                );
            }
        }
    }
}

fn describe(code: &str) -> &'static str {
    match code {
        "400" => "Malformed request (1001), or a malformed registration number or coupon (1003)",
        "401" => "No valid bearer token",
        "403" => "The token's role may not do this, or the key is blocked",
        "404" => "Not found",
        "409" => "Conflict with the current state",
        "413" => "Body over the size limit (1004)",
        "416" => "Range not satisfiable",
        "429" => "Too many requests from this address; see Retry-After",
        _ => "Error",
    }
}
